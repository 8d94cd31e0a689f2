import Feeds
import Foundation
import Relay

extension RelayHarness {
    /// A test configuration (as `configuration(scalingo:)` makes) whose one feed is EscapeKit, on the fake.
    func configuration(escapekit fake: FakeEscapeKit, feed adjust: (inout EscapeKitConfiguration) -> Void = { _ in }) -> RelayConfiguration {
        var configuration = configuration(scalingo: nil)
        var feed = EscapeKitFeedSettings(apiURL: fake.url)
        feed.tokenEnv = "TEST_ESCAPEKIT_TOKEN"
        feed.configuration.interval = .milliseconds(150)
        feed.configuration.pageSize = 5
        adjust(&feed.configuration)
        configuration.feeds = [feed]
        environment["TEST_ESCAPEKIT_TOKEN"] = fake.token
        return configuration
    }
}
