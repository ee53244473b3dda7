#!/bin/bash -e
# pi-gen runs this first: start from the previous stage's root filesystem (stage2, Lite), as
# pi-gen's own stages do.
if [ ! -d "${ROOTFS_DIR}" ]; then
	copy_previous
fi
