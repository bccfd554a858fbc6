// Package storetest is the one test suite of Parlor's stores: every
// implementation of core/store (SQLite, PostgreSQL) runs the same tests
// through Run, so that they keep the same semantics: the same errors
// (store.ErrNotFound, ErrExists, ErrInvalid, ErrConflict), names compared
// by key, ids that never come again, expiry, and the order of what they
// list. Tests that only make sense for one implementation (its files,
// pragmas, connection settings) stay next to it.
package storetest

import (
	"testing"

	"github.com/parlorchat/parlor/core/store"
)

// Store is everything a Parlor store implements.
type Store interface {
	store.Store
	store.Accounts
	store.HostData
	store.AuditLog
}

// Opener opens the database of one test. Every call opens the same
// database again, as a restart or a second node would; the store it
// returns is closed when the test ends (a test may close it earlier).
type Opener func(t *testing.T) Store

// Run runs the suite. newDB is called once per test and returns the
// Opener of a fresh, empty database.
func Run(t *testing.T, newDB func(t *testing.T) Opener) {
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newDB(t))
		})
	}
}

// tests are the suite's tests, in the order they run.
var tests = []struct {
	name string
	run  func(t *testing.T, open Opener)
}{
	{"RoomRoundTrip", testRoomRoundTrip},
	{"SurvivesReopen", testSurvivesReopen},
	{"DeleteRoom", testDeleteRoom},
	{"RecentMessagesLastN", testRecentMessagesLastN},
	{"BatchesOfEverySizeKeepEveryField", testBatchesOfEverySize},
	{"GroupIsolation", testGroupIsolation},
	{"ConcurrentAppend", testConcurrentAppend},
	{"AppendCanceled", testAppendCanceled},
	{"AppendRejectsOutOfRangeTime", testAppendRejectsOutOfRangeTime},
	{"MessageIDsAreKeptAndLastIDSurvivesDelete", testMessageIDsKept},
	{"PresetIDsFromSeveralWriters", testPresetIDsFromSeveralWriters},
	{"DuplicateIDRefusesTheBatch", testDuplicateIDRefusesTheBatch},
	{"MessageTextWithNUL", testMessageTextWithNUL},
	{"TwoStoresOnOneDatabase", testTwoStoresOnOneDatabase},

	{"AccountsAreUniqueByKey", testAccountsAreUniqueByKey},
	{"AccountLookupsSeeRenameAndDelete", testAccountLookupsSeeRenameAndDelete},
	{"AccountLookupAfterCancelledLookup", testAccountLookupAfterCancelledLookup},
	{"AccountLookalike", testAccountLookalike},
	{"AccountNotFound", testAccountNotFound},
	{"Sessions", testSessions},
	{"KV", testKV},
	{"PurgeExpired", testPurgeExpired},

	{"SanctionQuery", testSanctionQuery},
	{"LiftSanction", testLiftSanction},
	{"HeldMessages", testHeldMessages},
	{"TakeHeldOnce", testTakeHeldOnce},
	{"DocVersions", testDocVersions},
	{"DocPutRace", testDocPutRace},
	{"DocListPrefixIsExact", testDocListPrefixIsExact},

	{"Audit", testAudit},
}
