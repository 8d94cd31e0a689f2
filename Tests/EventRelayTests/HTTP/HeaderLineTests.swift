@testable import HTTPClient
import Testing

/// Response header lines as libcurl hands them to the header callback, read as bytes.
struct HeaderLineTests {
    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\n", HeaderLine.status),
        ("HTTP/2 429\r\n", .status),
        ("  HTTP/1.0 100 Continue\r\n", .status),
        ("Retry-After: 30\r\n", .field(name: "Retry-After", value: "30")),
        ("retry-after:30\r\n", .field(name: "retry-after", value: "30")),
        ("X-Name \t:  \t a value with  spaces \t\r\n", .field(name: "X-Name", value: "a value with  spaces")),
        ("Date: Wed, 21 Oct 2015 07:28:00 GMT\r\n", .field(name: "Date", value: "Wed, 21 Oct 2015 07:28:00 GMT")),
        ("Link: <https://x.example/a?b=c:d>; rel=next\n", .field(name: "Link", value: "<https://x.example/a?b=c:d>; rel=next")),
        ("Empty:\r\n", .field(name: "Empty", value: "")),
        ("X-Unicode: caf\u{e9} \u{2603}\r\n", .field(name: "X-Unicode", value: "caf\u{e9} \u{2603}")),
        ("\r\n", .other),
        ("", .other),
        ("no colon here\r\n", .other),
        ("HTTP\r\n", .other),
        ("HTTPX: y\r\n", .field(name: "HTTPX", value: "y")),
    ])
    func parsesOneLine(line: String, expected: HeaderLine) {
        #expect(HeaderLine.parse(line) == expected)
    }

    @Test func invalidUTF8IsRepairedNotDropped() {
        var bytes: [UInt8] = Array("X-Bad: a".utf8) + [0xFF] + Array("b\r\n".utf8)
        let parsed = bytes.withUnsafeMutableBytes { HeaderLine.parse(UnsafeRawBufferPointer($0)) }
        #expect(parsed == .field(name: "X-Bad", value: "a\u{FFFD}b"))
    }
}
