package outcome

import "github.com/microsim/microsim/framework/errors"

// OK is the code name of a success.
const OK = "ok"

// Code is the name of err's errors.Code ("unavailable", ...), or OK for
// nil.
func Code(err error) string {
	if err == nil {
		return OK
	}
	return errors.CodeOf(err).String()
}
