import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A loopback SMTP server speaking the protocol as RFC 5321 and 4954 describe it, enough to
/// check what the relay's e-mail sends: EHLO (offering AUTH PLAIN, no STARTTLS), AUTH PLAIN
/// (with or without an initial response), MAIL FROM, RCPT TO (refused for `reject…@`
/// recipients with 550, deferred for `tempfail…@` with 451), DATA (dot-unstuffed), RSET, NOOP,
/// QUIT. Each connection is served on a thread of its own.
final class SMTPServer: @unchecked Sendable {
    struct Message: Sendable {
        var from: String
        var recipients: [String]
        var data: String
        var user: String?
    }

    let port: UInt16
    private let listener: Int32
    private let credentials: (user: String, password: String)?
    private let lock = NSLock()
    private var received: [Message] = []
    private var transcript: [String] = []
    private var stopped = false

    /// `credentials`: when set, AUTH is required before MAIL and must match.
    init(credentials: (user: String, password: String)? = nil) throws {
        self.credentials = credentials
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var yes: Int32 = 1
        guard setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            close(socket)
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(socket, 16) == 0 else {
            close(socket)
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        guard named == 0 else {
            close(socket)
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        port = UInt16(bigEndian: address.sin_port)
        listener = socket
        let thread = Thread { [self] in serve() }
        thread.name = "smtp-test-server"
        thread.start()
    }

    var messages: [Message] { lock.withLock { received } }
    /// Every command the server read, in order (AUTH arguments as they came).
    var commands: [String] { lock.withLock { transcript } }

    func stop() {
        lock.withLock { stopped = true }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    func waitFor(timeout: Duration = .seconds(20), _ condition: ([Message]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(messages) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition(messages)
    }

    private func serve() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if lock.withLock({ stopped }) { return }
                continue
            }
            // libcurl keeps SMTP connections open for reuse: each is served on a thread of its own.
            let worker = Thread { [self] in
                handle(connection)
                close(connection)
            }
            worker.start()
        }
    }

    private func handle(_ connection: Int32) {
        var reader = LineReader(socket: connection)
        func reply(_ text: String) -> Bool {
            let bytes = Array((text + "\r\n").utf8)
            return bytes.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
        }
        guard reply("220 test.invalid ESMTP ready") else { return }
        var from: String?
        var recipients: [String] = []
        var user: String?
        while let line = reader.next() {
            lock.withLock { transcript.append(line) }
            let upper = line.uppercased()
            var ok = true
            if upper.hasPrefix("EHLO") || upper.hasPrefix("HELO") {
                ok = reply("250-test.invalid") && reply("250-AUTH PLAIN") && reply("250 8BITMIME")
            } else if upper.hasPrefix("AUTH PLAIN") {
                var encoded = String(line.dropFirst("AUTH PLAIN".count)).trimmingCharacters(in: .whitespaces)
                if encoded.isEmpty {
                    guard reply("334 "), let next = reader.next() else { return }
                    encoded = next
                }
                let parts = (Data(base64Encoded: encoded).map { String(decoding: $0, as: UTF8.self) } ?? "")
                    .split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
                if parts.count == 3, parts[1] == "tempfail" {
                    ok = reply("454 4.7.0 Temporary authentication failure")
                } else if let credentials, parts.count == 3, parts[1] == credentials.user, parts[2] == credentials.password {
                    user = parts[1]
                    ok = reply("235 2.7.0 Authentication successful")
                } else {
                    ok = reply("535 5.7.8 Authentication credentials invalid")
                }
            } else if upper.hasPrefix("MAIL FROM:") {
                if credentials != nil, user == nil {
                    ok = reply("530 5.7.0 Authentication required")
                } else {
                    from = Self.address(line)
                    recipients = []
                    ok = reply("250 2.1.0 OK")
                }
            } else if upper.hasPrefix("RCPT TO:") {
                let recipient = Self.address(line)
                if recipient.hasPrefix("reject") {
                    ok = reply("550 5.1.1 No such user")
                } else if recipient.hasPrefix("tempfail") {
                    ok = reply("451 4.3.0 Try again later")
                } else {
                    recipients.append(recipient)
                    ok = reply("250 2.1.5 OK")
                }
            } else if upper == "DATA" {
                guard from != nil, !recipients.isEmpty else {
                    ok = reply("503 5.5.1 Need MAIL and RCPT first")
                    continue
                }
                guard reply("354 End data with <CR><LF>.<CR><LF>") else { return }
                var data: [String] = []
                while let dataLine = reader.next() {
                    if dataLine == "." { break }
                    data.append(dataLine.hasPrefix("..") ? String(dataLine.dropFirst()) : dataLine)
                }
                let message = Message(from: from ?? "", recipients: recipients, data: data.joined(separator: "\r\n"), user: user)
                lock.withLock { received.append(message) }
                ok = reply("250 2.0.0 Queued")
            } else if upper == "RSET" || upper == "NOOP" {
                ok = reply("250 2.0.0 OK")
            } else if upper == "QUIT" {
                _ = reply("221 2.0.0 Bye")
                return
            } else {
                ok = reply("502 5.5.2 Command not recognized")
            }
            if !ok { return }
        }
    }

    /// The address inside `<…>`.
    static func address(_ line: String) -> String {
        guard let open = line.firstIndex(of: "<"), let close = line[open...].firstIndex(of: ">") else { return "" }
        return String(line[line.index(after: open)..<close])
    }

    /// CRLF-terminated lines from a socket.
    struct LineReader {
        let socket: Int32
        var buffer: [UInt8] = []

        mutating func next() -> String? {
            while true {
                if let end = buffer.indices.dropFirst().first(where: { buffer[$0 - 1] == 13 && buffer[$0] == 10 }) {
                    let line = String(decoding: buffer[..<(end - 1)], as: UTF8.self)
                    buffer.removeSubrange(...end)
                    return line
                }
                var chunk = [UInt8](repeating: 0, count: 4096)
                let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
                guard count > 0 else { return nil }
                buffer += chunk.prefix(count)
            }
        }
    }
}
