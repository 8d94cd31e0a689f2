/// One line of a response's header block as libcurl hands it over (CRLF included), read as
/// bytes: a status line, a `name: value` field, or anything else (the blank line that ends the
/// block, a malformed line). Space, tab, CR and LF around the name and value are dropped.
enum HeaderLine: Equatable {
    case status
    case field(name: String, value: String)
    case other

    static func parse(_ bytes: UnsafeRawBufferPointer) -> HeaderLine {
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, isBlank(bytes[start]) { start += 1 }
        while end > start, isBlank(bytes[end - 1]) { end -= 1 }
        if end - start >= 5, bytes[start] == UInt8(ascii: "H"), bytes[start + 1] == UInt8(ascii: "T"),
           bytes[start + 2] == UInt8(ascii: "T"), bytes[start + 3] == UInt8(ascii: "P"), bytes[start + 4] == UInt8(ascii: "/") {
            return .status
        }
        guard let colon = bytes[start..<end].firstIndex(of: UInt8(ascii: ":")) else { return .other }
        var nameEnd = colon
        while nameEnd > start, isBlank(bytes[nameEnd - 1]) { nameEnd -= 1 }
        var valueStart = colon + 1
        while valueStart < end, isBlank(bytes[valueStart]) { valueStart += 1 }
        return .field(
            name: String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<nameEnd]), as: UTF8.self),
            value: String(decoding: UnsafeRawBufferPointer(rebasing: bytes[valueStart..<end]), as: UTF8.self))
    }

    static func parse(_ text: String) -> HeaderLine {
        var copy = Array(text.utf8)
        return copy.withUnsafeMutableBytes { parse(UnsafeRawBufferPointer($0)) }
    }

    private static func isBlank(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A
    }
}
