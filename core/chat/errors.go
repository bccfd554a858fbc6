package chat

import (
	"errors"
	"fmt"
	"time"
)

// Error is a refusal a user sees: a stable code (docs/protocol.md, "Error
// codes") and a sentence that explains it.
type Error struct {
	Code    string
	Message string
	// RetryAfter, when set, says how long the client must wait before the
	// same request can pass (rate limits, lock-outs).
	RetryAfter time.Duration
}

// Error returns the sentence.
func (e *Error) Error() string { return e.Message }

// Errorf builds an *Error with a formatted message.
func Errorf(code, format string, a ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, a...)}
}

// RateLimited is the refusal of a request over an abuse limit: what was
// limited ("Too many messages") and when to retry.
func RateLimited(what string, retry time.Duration) *Error {
	retry = max(retry, 100*time.Millisecond)
	return &Error{Code: CodeRateLimited, Message: fmt.Sprintf("%s; try again in %s.", what, waitWords(retry)), RetryAfter: retry}
}

// waitWords says a wait the way a person would: "0.3 seconds", "12
// seconds", "3 minutes", "2 hours" (rounded up, so the user never retries
// too early).
func waitWords(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	ceil := func(d, unit time.Duration) int64 { return int64((d + unit - 1) / unit) }
	switch {
	case d < time.Second:
		return fmt.Sprintf("%.1f seconds", float64(ceil(d, 100*time.Millisecond))/10)
	case ceil(d, time.Second) < 60:
		return plural(ceil(d, time.Second), "second")
	case ceil(d, time.Minute) < 120:
		return plural(ceil(d, time.Minute), "minute")
	default:
		return plural(ceil(d, time.Hour), "hour")
	}
}

// RetryAfterOf returns how long the client must wait before retrying
// err, or 0.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// ErrorEventOf is the error frame answering request id with err.
func ErrorEventOf(id string, err error) ErrorEvent {
	return ErrorEvent{Type: "error", ID: id, Code: CodeOf(err), Message: err.Error(), RetryAfterMS: RetryAfterOf(err).Milliseconds()}
}

// CodeOf returns the code of err if it is (or wraps) an *Error, and
// "internal" otherwise.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "internal"
}

// Error codes of the protocol.
const (
	CodeBadRequest       = "bad_request"
	CodeNotLoggedIn      = "not_logged_in"
	CodeAlreadyLoggedIn  = "already_logged_in"
	CodeWrongPassword    = "wrong_password"
	CodeNameUnusable     = "name_unusable"
	CodeNameTaken        = "name_taken"
	CodeNameConfusable   = "name_confusable"
	CodeLoginError       = "login_error"
	CodeNoSuchUser       = "no_such_user"
	CodeGuestsNotAllowed = "guests_not_allowed"
	CodeNoSuchRoom       = "no_such_room"
	CodeRoomFull         = "room_full"
	CodeRoomPassword     = "room_password"
	CodeRoomClosed       = "room_closed"
	CodeMembersOnly      = "members_only"
	CodeNotInRoom        = "not_in_room"
	CodeNotOnline        = "no_such_user_online"
	CodeTooLong          = "too_long"
	CodeEmpty            = "empty"
	CodeGroupStopped     = "group_stopped"
	CodeRateLimited      = "rate_limited"
	// CodeNotSaved refuses a message the store could not save; nobody
	// got it, and the speaker may say it again.
	CodeNotSaved = "not_saved"
	// CodeBanned refuses a login or join of a banned user; the message
	// gives the reason and the expiry.
	CodeBanned = "banned"
	// CodeKicked refuses a join into a room the user was kicked out of,
	// before the cooldown ends (RetryAfter).
	CodeKicked = "kicked"
	// CodeRefused: a module denied a login, join or command (or refused
	// without a code of its own).
	CodeRefused = "refused"
	// CodeRejected: a module rejected a message; the reason says why.
	CodeRejected = "rejected"
	// CodeModuleUnavailable: a fail-closed module is down or late, or
	// the module owning a command is.
	CodeModuleUnavailable = "module_unavailable"
	// CodeModuleError: the module owning a command failed to answer.
	CodeModuleError = "module_error"
	// CodeUnknownCommand: no module owns the command's prefix.
	CodeUnknownCommand = "unknown_command"
	// CodeMuted refuses a message (or module command) of a muted user.
	CodeMuted = "muted"
)
