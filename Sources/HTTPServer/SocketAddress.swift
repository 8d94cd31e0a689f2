import Foundation

#if canImport(Glibc)
import Glibc
#endif

enum SocketAddress {
    /// Builds a sockaddr for an IP literal (`localhost` means 127.0.0.1) and lends it to `body`.
    static func withSockaddr<T>(
        host: String, port: UInt16, _ body: (UnsafePointer<sockaddr>, Bool) throws -> T
    ) throws -> T {
        let literal = host == "localhost" ? "127.0.0.1" : host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        var v4 = sockaddr_in()
        if inet_pton(AF_INET, literal, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = port.bigEndian
            return try withUnsafePointer(to: &v4) {
                try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, false) }
            }
        }
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET6, literal, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = port.bigEndian
            return try withUnsafePointer(to: &v6) {
                try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, true) }
            }
        }
        throw HTTPServerError("listen address \(host) is not an IP address")
    }
}
