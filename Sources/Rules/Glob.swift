/// A pattern where `*` stands for any run of characters (none included); everything else is
/// literal and case-sensitive. Compiled once, matched on UTF-8 bytes without allocating.
public struct Glob: Sendable, Hashable, CustomStringConvertible {
    public let pattern: String
    private enum Form: Sendable, Hashable {
        case anything
        case exact([UInt8])
        /// Literal pieces between stars; `anchoredStart`/`anchoredEnd` say whether the pattern
        /// starts/ends with a literal rather than a star.
        case pieces([[UInt8]], anchoredStart: Bool, anchoredEnd: Bool)
    }
    private let form: Form

    public init(_ pattern: String) {
        self.pattern = pattern
        let bytes = Array(pattern.utf8)
        if !bytes.contains(UInt8(ascii: "*")) {
            form = .exact(bytes)
        } else if bytes.allSatisfy({ $0 == UInt8(ascii: "*") }) {
            form = .anything
        } else {
            let pieces = bytes.split(separator: UInt8(ascii: "*"), omittingEmptySubsequences: true).map(Array.init)
            form = .pieces(
                pieces, anchoredStart: bytes.first != UInt8(ascii: "*"), anchoredEnd: bytes.last != UInt8(ascii: "*"))
        }
    }

    public var description: String { pattern }

    public func matches(_ text: String) -> Bool {
        switch form {
        case .anything:
            return true
        case .exact(let literal):
            return text.utf8.elementsEqual(literal)
        case .pieces(let pieces, let anchoredStart, let anchoredEnd):
            var text = text
            return text.withUTF8 { Glob.match(pieces, anchoredStart, anchoredEnd, in: $0) }
        }
    }

    private static func match(_ pieces: [[UInt8]], _ anchoredStart: Bool, _ anchoredEnd: Bool, in text: UnsafeBufferPointer<UInt8>) -> Bool {
        var start = 0
        var end = text.count
        var remaining = pieces[...]
        if anchoredStart, let first = remaining.first {
            guard hasPiece(first, at: 0, in: text) else { return false }
            start = first.count
            remaining = remaining.dropFirst()
        }
        if anchoredEnd, let last = remaining.last {
            guard end - last.count >= start, hasPiece(last, at: end - last.count, in: text) else { return false }
            end -= last.count
            remaining = remaining.dropLast()
        }
        // Middle pieces: the leftmost occurrence of each, in order, is always the best choice.
        for piece in remaining {
            guard let found = find(piece, in: text, from: start, to: end) else { return false }
            start = found + piece.count
        }
        return start <= end
    }

    private static func hasPiece(_ piece: [UInt8], at offset: Int, in text: UnsafeBufferPointer<UInt8>) -> Bool {
        guard offset >= 0, offset + piece.count <= text.count else { return false }
        for index in 0..<piece.count where text[offset + index] != piece[index] { return false }
        return true
    }

    private static func find(_ piece: [UInt8], in text: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Int? {
        guard to - from >= piece.count else { return nil }
        var offset = from
        while offset + piece.count <= to {
            if hasPiece(piece, at: offset, in: text) { return offset }
            offset += 1
        }
        return nil
    }
}
