# A stand-in for a user's package, loaded only with the tests (file name ends in _test).
package ftpolicy.fixture

import rego.v1

deny contains {"rule": "fixture/deny", "msg": "fixture deny", "severity": "high", "path": "a.yaml", "line": 3} if input.fixture.deny

warn contains {"rule": "fixture/warn", "msg": "fixture warn", "severity": "low", "path": "b.yaml"} if input.fixture.warn

deny contains "a bare string is not a violation" if input.fixture.malformed

exception contains {"rule": "fixture/deny", "owner": "alice", "reason": "accepted risk", "expires": "2026-12-31"} if {
	input.fixture.rego_exception
}
