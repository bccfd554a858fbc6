package chat

import (
	"errors"
	"fmt"
)

// Error is a refusal a user sees: a stable code (docs/protocol.md, "Error
// codes") and a sentence that explains it.
type Error struct {
	Code    string
	Message string
}

// Error returns the sentence.
func (e *Error) Error() string { return e.Message }

// Errorf builds an *Error with a formatted message.
func Errorf(code, format string, a ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, a...)}
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
)
