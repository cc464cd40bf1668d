package notify

import (
	"slices"
	"strings"
	"time"
)

// A channel's Send error says whether sending again can help. An error as
// it comes is temporary: the dispatcher retries it (RetryPolicy). A
// channel marks the other two classes explicitly:
//
//   - Permanent: the provider refused the message in a way a retry cannot
//     change (wrong credentials, unknown recipient or URL, a malformed
//     request). It is tried once and logged once, at error level.
//   - RetryAfter: the provider said when to come back (HTTP 429 with
//     Retry-After). The next attempt waits at least that long.
//
// Wrapping keeps the error's text and everything errors.Is and errors.As
// see in it.

// Permanent marks err as a failure that retrying cannot help; why says
// what is wrong in a few words ("401 Unauthorized: the credentials were
// refused") and is logged with it. A nil err stays nil.
func Permanent(err error, why string) error {
	if err == nil {
		return nil
	}
	if why == "" {
		why = "retrying cannot help"
	}
	return &permanentError{err: err, why: why}
}

// IsPermanent reports whether err, or what it wraps, was marked Permanent.
// An error that joins several (errors.Join, a fan-out over recipients) is
// permanent only when every one of them is: while one part may still
// succeed, the whole is worth a retry.
func IsPermanent(err error) bool {
	_, ok := permanentWhy(err)
	return ok
}

// RetryAfter marks err as temporary with the provider's own wait: the next
// attempt comes no sooner than d (within the dispatcher's cap). A nil err
// stays nil; d <= 0 leaves err as it is.
func RetryAfter(err error, d time.Duration) error {
	if err == nil || d <= 0 {
		return err
	}
	return &retryAfterError{err: err, after: d}
}

// RetryAfterOf is the wait err asks for through RetryAfter, if any. Of an
// error that joins several, it is the longest any of them asks for.
func RetryAfterOf(err error) (time.Duration, bool) {
	for err != nil {
		switch e := err.(type) {
		case *retryAfterError:
			return e.after, true
		case interface{ Unwrap() []error }:
			var longest time.Duration
			found := false
			for _, part := range e.Unwrap() {
				if d, ok := RetryAfterOf(part); ok {
					longest, found = max(longest, d), true
				}
			}
			return longest, found
		case interface{ Unwrap() error }:
			err = e.Unwrap()
		default:
			return 0, false
		}
	}
	return 0, false
}

// permanentWhy is why err is permanent; ok is false when it is not. For an
// error that joins several, every part must be permanent, and the reasons
// are listed once each.
func permanentWhy(err error) (why string, ok bool) {
	for err != nil {
		switch e := err.(type) {
		case *permanentError:
			return e.why, true
		case interface{ Unwrap() []error }:
			parts := e.Unwrap()
			var whys []string
			for _, part := range parts {
				w, ok := permanentWhy(part)
				if !ok {
					return "", false
				}
				if !slices.Contains(whys, w) {
					whys = append(whys, w)
				}
			}
			return strings.Join(whys, "; "), len(parts) > 0
		case interface{ Unwrap() error }:
			err = e.Unwrap()
		default:
			return "", false
		}
	}
	return "", false
}

// permanentError is an error marked by Permanent. It is unexported so that
// nobody asks errors.As for it: that would find one permanent part of a
// joined error and miss the others. IsPermanent is the question to ask.
type permanentError struct {
	err error
	why string
}

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// retryAfterError is an error marked by RetryAfter.
type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }
