import CCurl
import Foundation

/// One request in flight: the easy handle lent to it, the buffers libcurl reads and writes,
/// and the continuation to complete. Everything here outlives the transfer: libcurl does not
/// copy `CURLOPT_POSTFIELDS`, so `bodyBuffer` is owned here and freed in `deinit`, after the
/// multi handle has let go of the easy handle.
final class Transfer {
    /// What is carried: an HTTP exchange, or a message handed to an SMTP server (its last reply
    /// code arrives as the response's status).
    enum Work {
        case http(HTTPRequest)
        case mail(MailRequest)
    }

    let id: UInt64
    let easy: EasyHandle
    private let isMail: Bool
    private let headerList: HeaderList
    /// SMTP recipients.
    private let recipientList: HeaderList
    /// How much of the mail message libcurl has read.
    private var uploaded = 0
    private let uploadCount: Int
    private let bodyBuffer: UnsafeMutableRawBufferPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private let maxResponseBytes: Int
    private let addressPolicy: AddressPolicy?
    /// Set by the socket and pre-request callbacks when the policy refused an address.
    private(set) var refusal: String?
    private var continuation: CheckedContinuation<HTTPResponse, any Error>?

    private(set) var responseBody: [UInt8] = []
    private(set) var responseHeaders: [(name: String, value: String)] = []
    private(set) var exceededLimit = false

    init(
        id: UInt64, work: Work, easy: EasyHandle, configuration: HTTPClientConfiguration,
        continuation: CheckedContinuation<HTTPResponse, any Error>
    ) throws(HTTPClientError) {
        self.id = id
        self.easy = easy
        self.maxResponseBytes = configuration.maxResponseBytes
        self.continuation = continuation
        let payload: [UInt8]
        switch work {
        case .http(let request):
            isMail = false
            addressPolicy = request.addressPolicy
            // "Expect:" switches off 100-continue round trips for larger bodies.
            headerList = try HeaderList(request.headers.map { "\($0.name): \($0.value)" } + ["Expect:"])
            recipientList = try HeaderList([])
            payload = request.body
        case .mail(let mail):
            isMail = true
            addressPolicy = mail.addressPolicy
            headerList = try HeaderList([])
            for address in [mail.from] + mail.recipients where address.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "<" || $0 == ">" }) {
                throw HTTPClientError.invalidRequest.with(detail: "a mail address contains a line break or angle bracket")
            }
            recipientList = try HeaderList(mail.recipients.map { "<\($0)>" })
            payload = mail.message
        }
        uploadCount = payload.count
        // At least one byte, so POSTFIELDS is never NULL (NULL makes libcurl read stdin).
        let body = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, payload.count), alignment: 1)
        payload.withUnsafeBytes { bytes in
            if let base = bytes.baseAddress, bytes.count > 0 { body.baseAddress?.copyMemory(from: base, byteCount: bytes.count) }
        }
        bodyBuffer = body
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        switch work {
        case .http(let request): try configure(request, configuration)
        case .mail(let mail): try configure(mail, configuration)
        }
    }

    /// What every transfer sets: where, which protocols, TLS verification, timeouts, the error
    /// buffer, and the address policy's checks.
    private func configureConnection(url: String, protocols: String, timeout: Duration, _ configuration: HTTPClientConfiguration) throws(HTTPClientError) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        try easy.set(CURLOPT_URL, url)
        try easy.set(CURLOPT_PROTOCOLS_STR, protocols)
        try easy.set(CURLOPT_NOSIGNAL, 1)
        try easy.set(CURLOPT_SSL_VERIFYPEER, 1)
        try easy.set(CURLOPT_SSL_VERIFYHOST, 2)
        try easy.set(CURLOPT_CONNECTTIMEOUT_MS, Int(configuration.connectTimeout.milliseconds))
        try easy.set(CURLOPT_TIMEOUT_MS, Int(timeout.milliseconds))
        try easy.set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(errorBuffer))
        if addressPolicy != nil {
            // Checked twice: on each resolved address before its socket is opened (so nothing
            // refused is ever connected to, whatever DNS answered at that moment), and on the peer
            // of the connection about to carry the request, which may be a pooled one opened by
            // an unguarded request. A proxy would hide the destination from both: none is used.
            try easy.setOpenSocket(transferOpenSocketCallback, context: context)
            try easy.setPrerequest(transferPrerequestCallback, context: context)
            try easy.set(CURLOPT_PROXY, "")
        }
    }

    private func configure(_ mail: MailRequest, _ configuration: HTTPClientConfiguration) throws(HTTPClientError) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        try configureConnection(url: mail.url, protocols: "smtp,smtps", timeout: mail.timeout ?? configuration.requestTimeout, configuration)
        // STARTTLS: refuse to go on in clear text when the server does not offer it.
        try easy.set(CURLOPT_USE_SSL, Int(mail.security == .none ? CURLUSESSL_NONE.rawValue : CURLUSESSL_ALL.rawValue))
        try easy.set(CURLOPT_MAIL_FROM, "<\(mail.from)>")
        try easy.set(CURLOPT_MAIL_RCPT, list: recipientList.raw)
        if let username = mail.username { try easy.set(CURLOPT_USERNAME, username) }
        if let password = mail.password { try easy.set(CURLOPT_PASSWORD, password) }
        try easy.set(CURLOPT_UPLOAD, 1)
        try easy.set(CURLOPT_INFILESIZE_LARGE, offset: Int64(uploadCount))
        try easy.set(CURLOPT_READFUNCTION, callback: transferReadCallback)
        try easy.set(CURLOPT_READDATA, pointer: context)
    }

    /// Called by libcurl (through `transferReadCallback`) for the next piece of the mail message.
    func send(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let count = min(buffer.count, uploadCount - uploaded)
        guard count > 0, let source = bodyBuffer.baseAddress, let target = buffer.baseAddress else { return 0 }
        target.copyMemory(from: source + uploaded, byteCount: count)
        uploaded += count
        return count
    }

    deinit {
        bodyBuffer.deallocate()
        errorBuffer.deallocate()
    }

    private func configure(_ request: HTTPRequest, _ configuration: HTTPClientConfiguration) throws(HTTPClientError) {
        for (name, value) in request.headers where name.contains(where: { $0 == "\r" || $0 == "\n" || $0 == ":" })
            || value.contains(where: { $0 == "\r" || $0 == "\n" }) {
            throw HTTPClientError.invalidRequest.with(detail: "header \(name) contains a line break or colon")
        }
        let context = Unmanaged.passUnretained(self).toOpaque()
        try configureConnection(url: request.url, protocols: "http,https", timeout: request.timeout ?? configuration.requestTimeout, configuration)
        try easy.set(CURLOPT_FOLLOWLOCATION, 0)
        try easy.set(CURLOPT_TCP_KEEPALIVE, 1)
        try easy.set(CURLOPT_MAXFILESIZE_LARGE, offset: Int64(configuration.maxResponseBytes))
        try easy.set(CURLOPT_USERAGENT, configuration.userAgent)
        try easy.set(CURLOPT_WRITEFUNCTION, callback: transferWriteCallback)
        try easy.set(CURLOPT_WRITEDATA, pointer: context)
        try easy.set(CURLOPT_HEADERFUNCTION, callback: transferHeaderCallback)
        try easy.set(CURLOPT_HEADERDATA, pointer: context)
        try easy.set(CURLOPT_HTTPHEADER, list: headerList.raw)
        if addressPolicy != nil { try easy.set(CURLOPT_DISALLOW_USERNAME_IN_URL, 1) }
        switch request.method {
        case .GET:
            try easy.set(CURLOPT_HTTPGET, 1)
        case .HEAD:
            try easy.set(CURLOPT_NOBODY, 1)
        case .POST, .PUT, .PATCH, .DELETE:
            if request.method != .POST { try easy.set(CURLOPT_CUSTOMREQUEST, request.method.rawValue) }
            if request.method != .DELETE || !request.body.isEmpty {
                try easy.set(CURLOPT_POSTFIELDSIZE_LARGE, offset: Int64(request.body.count))
                try easy.set(CURLOPT_POSTFIELDS, pointer: bodyBuffer.baseAddress)
            }
        }
    }

    /// Called by libcurl (through `transferWriteCallback`) with each piece of the body.
    func receive(body bytes: UnsafeRawBufferPointer) -> Int {
        if responseBody.count + bytes.count > maxResponseBytes {
            exceededLimit = true
            return 0  // Makes libcurl stop with CURLE_WRITE_ERROR.
        }
        responseBody.append(contentsOf: bytes)
        return bytes.count
    }

    /// Called by libcurl with each complete header line, status lines included.
    func receive(headerLine bytes: UnsafeRawBufferPointer) {
        switch HeaderLine.parse(bytes) {
        case .status: responseHeaders.removeAll()  // A new response (after a 1xx) starts a new header block.
        case .field(let name, let value): responseHeaders.append((name, value))
        case .other: break
        }
    }

    /// Called by libcurl (through `transferOpenSocketCallback`) with a resolved address: opens
    /// the socket when the policy allows the address, otherwise records why and refuses.
    func openSocket(_ address: UnsafeMutablePointer<curl_sockaddr>) -> curl_socket_t {
        if let addressPolicy {
            var raw = [UInt8](repeating: 0, count: 16)
            let count = Int(ercurl_sockaddr_address(address, &raw))
            guard let ip = IPAddress(bytes: Array(raw.prefix(count))) else {
                refusal = "refused to connect to an address that is neither IPv4 nor IPv6"
                return CURL_SOCKET_BAD
            }
            if let kind = addressPolicy.refusal(for: ip) {
                refusal = addressPolicy.refusalMessage(for: ip, kind)
                return CURL_SOCKET_BAD
            }
        }
        return ercurl_open_socket(address)
    }

    /// Called by libcurl (through `transferPrerequestCallback`) once connected, before the
    /// request is sent: false (abort) when the policy refuses the peer.
    func checkPeer(_ primaryIP: UnsafePointer<CChar>?) -> Bool {
        guard let addressPolicy else { return true }
        guard let primaryIP, let ip = IPAddress(String(cString: primaryIP)) else {
            refusal = "refused to send: the connected address could not be read"
            return false
        }
        if let kind = addressPolicy.refusal(for: ip) {
            refusal = addressPolicy.refusalMessage(for: ip, kind)
            return false
        }
        return true
    }

    /// Completes the awaiting task exactly once.
    func finish(_ result: Result<HTTPResponse, HTTPClientError>) {
        guard let continuation else { return }
        self.continuation = nil
        continuation.resume(with: result.mapError { $0 as any Error })
    }

    /// Maps libcurl's final code for this transfer to a response or an error.
    func outcome(_ code: CURLcode) -> Result<HTTPResponse, HTTPClientError> {
        if code == CURLE_OK {
            return .success(HTTPResponse(status: easy.responseCode(), headers: responseHeaders, body: responseBody))
        }
        if isMail {
            if code == CURLE_LOGIN_DENIED {
                // "454 Temporary authentication failure" (or 421) is the server's, not the password's: its reply decides.
                let reply = easy.responseCode()
                if (400..<500).contains(reply) { return .success(HTTPResponse(status: reply, body: Array(errorMessage(code).utf8))) }
                return .failure(HTTPClientError.authenticationFailed.with(detail: errorMessage(code)))
            }
            if code == CURLE_USE_SSL_FAILED {
                return .failure(HTTPClientError.tlsFailed.with(detail: "the server does not offer STARTTLS: \(errorMessage(code))"))
            }
            // The server answered, and refused (a sender, a recipient, the data): its reply decides.
            let reply = easy.responseCode()
            if refusal == nil, reply >= 400, reply < 600 {
                return .success(HTTPResponse(status: reply, body: Array(errorMessage(code).utf8)))
            }
        }
        if let refusal {
            // A refused address is the reason whatever libcurl then reported (no address left
            // to try, or the abort of the pre-request check). Trying again cannot help.
            return .failure(HTTPClientError.addressRefused.with(detail: refusal))
        }
        let message = errorMessage(code)
        if exceededLimit || code == CURLE_FILESIZE_EXCEEDED {
            return .failure(HTTPClientError.responseTooLarge.with(detail: "response larger than \(maxResponseBytes) bytes"))
        }
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            return .failure(HTTPClientError.timedOut.with(detail: message))
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return .failure(HTTPClientError.connectFailed.with(detail: message))
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE,
            CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_SSL_ISSUER_ERROR:
            return .failure(HTTPClientError.tlsFailed.with(detail: message))
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_LOGIN_DENIED:  // LOGIN_DENIED: user info with DISALLOW_USERNAME_IN_URL
            return .failure(HTTPClientError.invalidRequest.with(detail: message))
        default:
            return .failure(HTTPClientError.transport.with(detail: message))
        }
    }

    private func errorMessage(_ code: CURLcode) -> String {
        let buffered = String(cString: errorBuffer)
        return buffered.isEmpty ? CurlCode.describe(code) : buffered
    }
}

// C callbacks: global, non-capturing (a capturing @convention(c) closure crashes the 6.3.1 compiler);
// the transfer arrives through the user-data pointer set with CURLOPT_WRITEDATA / CURLOPT_HEADERDATA.
let transferWriteCallback: ercurl_data_callback = { data, size, count, context in
    guard let data, let context else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    return transfer.receive(body: UnsafeRawBufferPointer(start: data, count: size * count))
}

let transferReadCallback: ercurl_data_callback = { data, size, count, context in
    guard let data, let context else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    return transfer.send(into: UnsafeMutableRawBufferPointer(start: data, count: size * count))
}

let transferHeaderCallback: ercurl_data_callback = { data, size, count, context in
    guard let data, let context else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    transfer.receive(headerLine: UnsafeRawBufferPointer(start: data, count: size * count))
    return size * count
}

let transferOpenSocketCallback: ercurl_opensocket_callback = { context, _, address in
    guard let context, let address else { return CURL_SOCKET_BAD }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    return transfer.openSocket(address)
}

let transferPrerequestCallback: ercurl_prereq_callback = { context, primaryIP, _, _, _ in
    guard let context else { return Int32(CURL_PREREQFUNC_ABORT) }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    return transfer.checkPeer(primaryIP) ? Int32(CURL_PREREQFUNC_OK) : Int32(CURL_PREREQFUNC_ABORT)
}
