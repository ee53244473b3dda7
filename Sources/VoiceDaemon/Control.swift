import ServiceLifecycle

/// The control socket (voicectl) as a service. The daemon starts the socket before the group (a
/// socket that cannot be created is a startup error); the service closes it at shutdown.
struct ControlService: Service {
    let server: ControlSocketServer

    func run() async throws {
        try? await gracefulShutdown()
        server.stop()
    }
}
