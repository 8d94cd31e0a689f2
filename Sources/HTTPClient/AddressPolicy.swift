import Foundation

/// An IPv4 or IPv6 address, as 4 or 16 bytes in network order. Parsed and printed with the C
/// library's `inet_pton`/`inet_ntop` (pure functions): IPv4 strictly as a dotted quad of
/// decimal numbers without leading zeros, IPv6 in RFC 4291 text without a zone.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes (IPv4) or 16 (IPv6).
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    public init?(_ text: String) {
        // A colon makes it IPv6, anything else is read as IPv4: "1.2.3.4" is never taken as IPv6.
        if text.contains(":") {
            var raw = in6_addr()
            guard inet_pton(AF_INET6, text, &raw) == 1 else { return nil }
            bytes = withUnsafeBytes(of: &raw) { Array($0) }
        } else {
            var raw = in_addr()
            guard inet_pton(AF_INET, text, &raw) == 1 else { return nil }
            bytes = withUnsafeBytes(of: &raw) { Array($0) }
        }
    }

    public var isIPv4: Bool { bytes.count == 4 }

    /// The IPv4 address an IPv6 address carries in its last 32 bits and is routed to: IPv4-mapped
    /// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`, but not `::` or `::1`) and the NAT64
    /// well-known prefix (`64:ff9b::a.b.c.d`). Such an address is judged as that IPv4 address.
    public var embeddedIPv4: IPAddress? {
        guard bytes.count == 16 else { return nil }
        let head = bytes[0..<12]
        let tail = Array(bytes[12..<16])
        let mapped = head.elementsEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff])
        let compatible = head.allSatisfy { $0 == 0 } && !(tail[0] == 0 && tail[1] == 0 && tail[2] == 0 && tail[3] <= 1)
        let nat64 = head.elementsEqual([0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0])
        return mapped || compatible || nat64 ? IPAddress(bytes: tail) : nil
    }

    public var description: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let printed = bytes.withUnsafeBytes { raw in
            inet_ntop(isIPv4 ? AF_INET : AF_INET6, raw.baseAddress, &text, socklen_t(text.count))
        }
        // inet_ntop fails only for a short buffer or an unknown family, neither possible here.
        guard printed != nil else { return bytes.map(String.init).joined(separator: isIPv4 ? "." : ":") }
        return String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// An IP network in CIDR notation (`10.0.0.0/8`, `fd00::/8`); a bare address is one host
/// (`/32`, `/128`).
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    public init(_ text: String) throws(ParseError) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(String(parts[0])) else {
            throw ParseError(description: "\"\(text)\" is not an IP network: write an address and a prefix length, like 10.0.0.0/8 or fd00::/8")
        }
        let maximum = address.bytes.count * 8
        var length = maximum
        if parts.count == 2 {
            let digits = parts[1]
            guard !digits.isEmpty, digits.count <= 3, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(digits),
                  value <= maximum
            else {
                throw ParseError(description: "\"\(text)\": the prefix length must be a number from 0 to \(maximum)")
            }
            length = value
        }
        let network = Self.masked(address, length)
        guard network == address else {
            throw ParseError(
                description: "\"\(text)\" has bits set after the first \(length): did you mean \(network)/\(length)?")
        }
        self.address = address
        self.prefixLength = length
    }

    public func contains(_ candidate: IPAddress) -> Bool {
        candidate.bytes.count == address.bytes.count && Self.masked(candidate, prefixLength) == address
    }

    /// Whether this network is exactly the one address `candidate`.
    func isHost(_ candidate: IPAddress) -> Bool {
        prefixLength == address.bytes.count * 8 && address == candidate
    }

    public var description: String { "\(address)/\(prefixLength)" }

    private static func masked(_ address: IPAddress, _ length: Int) -> IPAddress {
        var bytes = address.bytes
        for index in bytes.indices {
            let kept = min(8, max(0, length - index * 8))
            bytes[index] &= kept == 0 ? 0 : UInt8(truncatingIfNeeded: 0xff << (8 - kept))
        }
        return IPAddress(bytes: bytes) ?? address
    }
}

/// Why an address is not one a delivery may connect to by default.
public enum AddressClass: String, Sendable, CaseIterable {
    case loopback
    case linkLocal
    case cloudMetadata
    case privateNetwork
    case unspecified
    case multicast
    case broadcast
    case reserved

    /// "a private address": how a refusal names it.
    public var phrase: String {
        switch self {
        case .loopback: return "a loopback address"
        case .linkLocal: return "a link-local address"
        case .cloudMetadata: return "a cloud metadata address"
        case .privateNetwork: return "a private address"
        case .unspecified: return "an unspecified address"
        case .multicast: return "a multicast address"
        case .broadcast: return "the broadcast address"
        case .reserved: return "a reserved address"
        }
    }

    /// The class of a special-purpose address; nil for an ordinary (public unicast) one. An IPv6
    /// address carrying an IPv4 address (`::ffff:10.0.0.1`) is judged as that IPv4 address.
    public static func of(_ address: IPAddress) -> AddressClass? {
        if let v4 = address.embeddedIPv4 { return ofIPv4(v4.bytes) }
        return address.isIPv4 ? ofIPv4(address.bytes) : ofIPv6(address.bytes)
    }

    private static func ofIPv4(_ b: [UInt8]) -> AddressClass? {
        switch (b[0], b[1], b[2], b[3]) {
        case (169, 254, 169, 254), (100, 100, 100, 200): return .cloudMetadata  // AWS/GCP/Azure/OpenStack; Alibaba
        case (0, _, _, _): return .unspecified  // 0.0.0.0/8, "this network"
        case (127, _, _, _): return .loopback
        case (169, 254, _, _): return .linkLocal
        case (10, _, _, _), (172, 16...31, _, _), (192, 168, _, _): return .privateNetwork
        case (100, 64...127, _, _): return .privateNetwork  // 100.64.0.0/10, carrier-grade NAT
        case (224...239, _, _, _): return .multicast
        case (255, 255, 255, 255): return .broadcast
        case (240...255, _, _, _): return .reserved  // 240.0.0.0/4
        default: return nil
        }
    }

    private static func ofIPv6(_ b: [UInt8]) -> AddressClass? {
        if b == [0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54] { return .cloudMetadata }  // fd00:ec2::254 (AWS)
        if b.allSatisfy({ $0 == 0 }) { return .unspecified }
        if b.dropLast().allSatisfy({ $0 == 0 }) && b[15] == 1 { return .loopback }
        switch (b[0], b[1] & 0xc0) {
        case (0xfe, 0x80): return .linkLocal  // fe80::/10
        case (0xfe, 0xc0): return .privateNetwork  // fec0::/10, the deprecated site-local
        default: break
        }
        if b[0] & 0xfe == 0xfc { return .privateNetwork }  // fc00::/7, unique local
        if b[0] == 0xff { return .multicast }
        return nil
    }
}

/// Which addresses an outbound request may connect to. Special-purpose addresses (loopback,
/// link-local, cloud metadata, private, unspecified, multicast, broadcast, reserved) are refused
/// unless one of `allowedNetworks` contains them; a cloud metadata address is allowed only by
/// a network that is that very address (`169.254.169.254/32`), never by a wider one that
/// happens to include it. Pure: `CurlHTTPClient` applies it to the address libcurl connects to.
public struct AddressPolicy: Sendable, Hashable {
    public var allowedNetworks: [IPNetwork]
    /// The setting that allows more (`delivery.allowed_networks`), named in refusals.
    public var settingName: String?

    public init(allowedNetworks: [IPNetwork] = [], settingName: String? = nil) {
        self.allowedNetworks = allowedNetworks
        self.settingName = settingName
    }

    /// Why `address` is refused, or nil when it may be connected to.
    public func refusal(for address: IPAddress) -> AddressClass? {
        guard let kind = AddressClass.of(address) else { return nil }
        let forms = [address] + (address.embeddedIPv4.map { [$0] } ?? [])
        let allowed = forms.contains { form in
            allowedNetworks.contains { kind == .cloudMetadata ? $0.isHost(form) : $0.contains(form) }
        }
        return allowed ? nil : kind
    }

    /// "refused to connect to 10.0.0.1: a private address (allow it with delivery.allowed_networks)".
    public func refusalMessage(for address: IPAddress, _ kind: AddressClass) -> String {
        let base = "refused to connect to \(address): \(kind.phrase)"
        guard let settingName else { return base }
        if kind == .cloudMetadata {
            return base + " (only \(settingName) naming this very address allows it)"
        }
        return base + " (allow it with \(settingName))"
    }
}
