import HTTPClient
import Testing

@Suite("AddressPolicy: which addresses a delivery may connect to")
struct AddressPolicyTests {
    static func address(_ text: String) throws -> IPAddress { try #require(IPAddress(text), "\(text) parses") }
    static func networks(_ texts: [String]) throws -> [IPNetwork] { try texts.map { try IPNetwork($0) } }

    @Test(arguments: [
        // IPv4
        ("0.0.0.0", AddressClass.unspecified), ("0.1.2.3", .unspecified),
        ("127.0.0.1", .loopback), ("127.255.255.254", .loopback),
        ("169.254.0.1", .linkLocal), ("169.254.169.253", .linkLocal), ("169.254.169.254", .cloudMetadata),
        ("100.100.100.200", .cloudMetadata), ("100.100.100.201", .privateNetwork),
        ("10.0.0.1", .privateNetwork), ("10.255.255.255", .privateNetwork),
        ("172.16.0.1", .privateNetwork), ("172.31.255.255", .privateNetwork),
        ("192.168.1.1", .privateNetwork),
        ("100.64.0.1", .privateNetwork), ("100.127.255.255", .privateNetwork),
        ("224.0.0.1", .multicast), ("239.255.255.250", .multicast),
        ("240.0.0.1", .reserved), ("255.255.255.254", .reserved), ("255.255.255.255", .broadcast),
        // IPv6
        ("::", .unspecified), ("::1", .loopback),
        ("fe80::1", .linkLocal), ("febf:ffff::1", .linkLocal), ("fec0::1", .privateNetwork),
        ("fc00::1", .privateNetwork), ("fd12:3456::1", .privateNetwork), ("fd00:ec2::254", .cloudMetadata),
        ("ff02::1", .multicast),
        // IPv6 carrying IPv4: judged as the IPv4 address
        ("::ffff:127.0.0.1", .loopback), ("::ffff:7f00:1", .loopback), ("::ffff:10.1.2.3", .privateNetwork),
        ("::ffff:169.254.169.254", .cloudMetadata), ("::ffff:0.0.0.0", .unspecified),
        ("::127.0.0.1", .loopback), ("::10.0.0.1", .privateNetwork), ("::0.0.0.2", .unspecified),
        ("64:ff9b::10.0.0.1", .privateNetwork), ("64:ff9b::7f00:1", .loopback),
    ])
    func specialAddressesAreClassified(text: String, expected: AddressClass) throws {
        let ip = try Self.address(text)
        #expect(AddressClass.of(ip) == expected, "\(text)")
        #expect(AddressPolicy().refusal(for: ip) == expected, "refused by default: \(text)")
    }

    @Test(arguments: [
        "1.1.1.1", "8.8.8.8", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0", "126.255.255.255", "128.0.0.1",
        "169.253.255.255", "169.255.0.0", "172.15.255.255", "172.32.0.0", "192.167.255.255", "192.169.0.0", "223.255.255.255",
        "2001:4860:4860::8888", "2606:4700::1111", "2a00:1450:4007:80e::200e", "::2:0:0:1", "fbff::1", "fe7f::1", "::ffff:8.8.8.8",
        "64:ff9b::8.8.8.8", "64:ff9c::10.0.0.1",
    ])
    func publicAddressesAreAllowed(text: String) throws {
        let ip = try Self.address(text)
        #expect(AddressClass.of(ip) == nil, "\(text)")
        #expect(AddressPolicy().refusal(for: ip) == nil)
    }

    @Test func allowedNetworksLiftTheRefusalForWhatTheyContainOnly() throws {
        let policy = AddressPolicy(allowedNetworks: try Self.networks(["127.0.0.0/8", "::1/128", "10.20.0.0/16", "fd12:3456::/32"]))
        for allowed in ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1", "10.20.0.1", "10.20.255.255", "fd12:3456:ffff::1"] {
            #expect(policy.refusal(for: try Self.address(allowed)) == nil, "\(allowed) is allowed")
        }
        for refused in ["10.21.0.1", "10.19.255.255", "192.168.0.1", "fd12:3457::1", "169.254.1.1", "fe80::1", "0.0.0.0", "::"] {
            #expect(policy.refusal(for: try Self.address(refused)) != nil, "\(refused) stays refused")
        }
    }

    @Test func cloudMetadataIsAllowedOnlyByAnEntryThatIsThatAddress() throws {
        let metadata = try Self.address("169.254.169.254")
        let wide = AddressPolicy(allowedNetworks: try Self.networks(["169.254.0.0/16", "0.0.0.0/0", "100.64.0.0/10", "::/0"]))
        #expect(wide.refusal(for: metadata) == .cloudMetadata)
        #expect(wide.refusal(for: try Self.address("100.100.100.200")) == .cloudMetadata)
        #expect(wide.refusal(for: try Self.address("fd00:ec2::254")) == .cloudMetadata)
        #expect(wide.refusal(for: try Self.address("169.254.1.1")) == nil, "the rest of link-local is lifted")
        let exact = AddressPolicy(allowedNetworks: try Self.networks(["169.254.169.254/32", "fd00:ec2::254"]))
        #expect(exact.refusal(for: metadata) == nil)
        #expect(exact.refusal(for: try Self.address("::ffff:169.254.169.254")) == nil, "the mapped form is the same address")
        #expect(exact.refusal(for: try Self.address("fd00:ec2::254")) == nil)
        #expect(exact.refusal(for: try Self.address("169.254.169.253")) == .linkLocal)
    }

    @Test func everythingPublicIsAllowedWhateverTheList() throws {
        let policy = AddressPolicy(allowedNetworks: try Self.networks(["10.0.0.0/8"]))
        #expect(policy.refusal(for: try Self.address("93.184.216.34")) == nil)
    }

    @Test func refusalsSayWhatAndHowToAllowIt() throws {
        let policy = AddressPolicy(settingName: "delivery.allowed_networks")
        let ip = try Self.address("10.0.0.1")
        #expect(policy.refusalMessage(for: ip, .privateNetwork)
            == "refused to connect to 10.0.0.1: a private address (allow it with delivery.allowed_networks)")
        #expect(policy.refusalMessage(for: try Self.address("169.254.169.254"), .cloudMetadata)
            == "refused to connect to 169.254.169.254: a cloud metadata address (only delivery.allowed_networks naming this very address allows it)")
        #expect(AddressPolicy().refusalMessage(for: try Self.address("::1"), .loopback) == "refused to connect to ::1: a loopback address")
    }

    @Test(arguments: [
        ("10.0.0.0/8", "10.0.0.0/8"), ("127.0.0.1", "127.0.0.1/32"), ("::1", "::1/128"), ("0.0.0.0/0", "0.0.0.0/0"), ("::/0", "::/0"),
        ("FD00::/8", "fd00::/8"), ("172.16.0.0/12", "172.16.0.0/12"), ("192.168.1.128/25", "192.168.1.128/25"),
        ("::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104"), ("fe80::/10", "fe80::/10"),
    ])
    func networksParse(text: String, shown: String) throws {
        #expect(try IPNetwork(text).description == shown)
    }

    @Test(arguments: [
        ("", "is not an IP network"), ("10.0.0.0/", "prefix length must be a number from 0 to 32"),
        ("10.0.0.0/33", "from 0 to 32"), ("::/129", "from 0 to 128"), ("10.0.0.0/-1", "prefix length"), ("10.0.0.0/+8", "prefix length"),
        ("10.0.0.0/8/8", "prefix length"), ("10.0.0.0/ 8", "prefix length"), ("10.0.0.0/0008", "prefix length"),
        ("10.0.0.1/8", "has bits set after the first 8: did you mean 10.0.0.0/8?"),
        ("fd00::1/8", "did you mean fd00::/8?"), ("10.0.0", "is not an IP network"), ("10.0.0.256/32", "is not an IP network"),
        ("010.0.0.0/8", "is not an IP network"), ("0x0a.0.0.0/8", "is not an IP network"), ("localhost", "is not an IP network"),
        (" 10.0.0.0/8", "is not an IP network"), ("fe80::1%eth0/128", "is not an IP network"), ("10.0.0.0/8 ", "prefix length"),
        ("1::2::3/64", "is not an IP network"),
    ])
    func badNetworksAreRefusedWithTheReason(text: String, message: String) {
        let error = #expect(throws: IPNetwork.ParseError.self) { try IPNetwork(text) }
        #expect(error?.description.contains(message) == true, "\(text): \(error?.description ?? "")")
    }

    @Test func containmentFollowsThePrefix() throws {
        func contains(_ network: String, _ address: String) throws -> Bool { try IPNetwork(network).contains(try Self.address(address)) }
        #expect(try contains("172.16.0.0/12", "172.16.0.0") && contains("172.16.0.0/12", "172.31.255.255"))
        #expect(try !contains("172.16.0.0/12", "172.32.0.0") && !contains("172.16.0.0/12", "172.15.255.255"))
        #expect(try !contains("172.16.0.0/12", "::ffff:172.16.0.1"), "families do not mix; the policy checks the IPv4 form itself")
        #expect(try contains("0.0.0.0/0", "255.255.255.255"))
        #expect(try contains("2001:db8::/127", "2001:db8::1") && !contains("2001:db8::/127", "2001:db8::2"))
    }

    @Test(arguments: ["1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.256", "0x1.2.3.4", "::g", "1:2:3:4:5:6:7:8:9", "", "fe80::1%1"])
    func addressesAreReadStrictly(text: String) {
        #expect(IPAddress(text) == nil, "\(text)")
    }

    @Test func addressesPrintCanonically() throws {
        #expect(try Self.address("0:0:0:0:0:0:0:1").description == "::1")
        #expect(try Self.address("::FFFF:7F00:1").description == "::ffff:127.0.0.1")
        #expect(try Self.address("192.0.2.1").description == "192.0.2.1")
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
    }
}
