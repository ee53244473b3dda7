// Opens N connections to a Unix socket and holds them idle (sends nothing) for S seconds: the
// system test's check that idle control-socket clients do not starve voiced under TasksMax=.
// Built static on the host by scripts/system-test.sh; the image has no compiler.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: idle-clients SOCKET N SECONDS\n");
        return 64;
    }
    int n = atoi(argv[2]), seconds = atoi(argv[3]), connected = 0;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strncpy(addr.sun_path, argv[1], sizeof addr.sun_path - 1);
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0) { perror("socket"); break; }
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { perror("connect"); close(fd); continue; }
        connected++;
    }
    printf("connected %d\n", connected);
    fflush(stdout);
    sleep(seconds);
    return 0;
}
