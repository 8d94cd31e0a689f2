// libyaml, as Yams bundles it: Yams composes documents but keeps its parser events private, and
// the alias check below must see the events before anything is composed. CYaml is a module of the
// Yams package that every importer of Yams must be able to load (Yams' interface depends on it),
// so it is there wherever Yams is; it is imported internally and used only in this file.
internal import CYaml

/// Finds aliases (`*name`) in a YAML text without composing it.
///
/// Composing expands every alias into a copy of its anchored node (Yams shares the storage, but
/// hashing a mapping key or walking a value visits every copy), so a kilobyte of anchors that
/// refer to anchors ("billion laughs") becomes billions of nodes. Configuration and rule files
/// have no use for aliases, so they are refused before composing. This pass reads libyaml's
/// events one at a time, keeps none and does not recurse: its time is linear in the text.
enum AliasScan {
    struct Alias: Equatable {
        var name: String
        /// 1-based, like Yams' marks.
        var line: Int
        var column: Int
    }

    /// The first alias in `text`, or nil when there is none before the end or before the first
    /// syntax error (composing then reports that error, having composed nothing with an alias).
    static func firstAlias(in text: String) -> Alias? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return nil }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return nil }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        return bytes.withUnsafeBufferPointer { buffer -> Alias? in
            guard let base = buffer.baseAddress else { return nil }
            yaml_parser_set_input_string(&parser, base, buffer.count)
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return nil }
                defer { yaml_event_delete(&event) }
                switch event.type {
                case YAML_ALIAS_EVENT:
                    let name = event.data.alias.anchor.map { String(cString: $0) } ?? ""
                    return Alias(name: name, line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
                case YAML_STREAM_END_EVENT, YAML_NO_EVENT:
                    return nil
                default:
                    continue
                }
            }
        }
    }
}
