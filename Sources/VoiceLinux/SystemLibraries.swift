import CALSA
import CGPIOD
import CSystemd

/// Versions of the Linux system libraries this adapter layer links, for `voiced --version`.
public enum LinuxLibraries {
    /// The ALSA library version, e.g. `1.2.8`.
    public static var alsaVersion: String { String(cString: snd_asoundlib_version()) }
    /// The libgpiod version, e.g. `1.6.3` (the v1 API).
    public static var gpiodVersion: String { String(cString: gpiod_version_string()) }
    /// Whether the machine was booted with systemd as init (`sd_booted`).
    public static var bootedWithSystemd: Bool { sd_booted() > 0 }
}
