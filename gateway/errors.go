package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	ferrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/registry"
)

// Sentinel errors.
var (
	// ErrClosed: the gateway is shutting down.
	ErrClosed = errors.New("gateway: closed")
	// ErrInvalidOption: an option was given a value it cannot take.
	ErrInvalidOption = errors.New("gateway: invalid option")
)

// errorID is the ID of the errors the gateway produces itself.
const errorID = "microsim.gateway"

// Problem is the JSON body of an error reply.
type Problem struct {
	ID     string `json:"id"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
	Status int    `json:"status"`
	// Suggestions are registered service names close to the one asked for.
	Suggestions []string `json:"suggestions,omitempty"`
	// Endpoints are the endpoints of the service asked for.
	Endpoints []string `json:"endpoints,omitempty"`
	// RequestShape is the shape of the request the endpoint expects.
	RequestShape *registry.Shape `json:"request_shape,omitempty"`
}

// statuses pairs each framework code with its HTTP status; the first
// status of a code is the one Status gives, the others also map back to it.
var statuses = []struct {
	code     ferrors.Code
	statuses []int
}{
	{ferrors.BadRequest, []int{http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusUnsupportedMediaType}},
	{ferrors.Unauthorized, []int{http.StatusUnauthorized}},
	{ferrors.Forbidden, []int{http.StatusForbidden}},
	{ferrors.NotFound, []int{http.StatusNotFound, http.StatusMethodNotAllowed}},
	{ferrors.Conflict, []int{http.StatusConflict}},
	{ferrors.ResourceExhausted, []int{http.StatusTooManyRequests, http.StatusRequestEntityTooLarge}},
	{ferrors.Canceled, []int{499}}, // client closed request
	{ferrors.NotImplemented, []int{http.StatusNotImplemented}},
	{ferrors.Interrupted, []int{http.StatusBadGateway}},
	{ferrors.Unavailable, []int{http.StatusServiceUnavailable}},
	{ferrors.DeadlineExceeded, []int{http.StatusGatewayTimeout, http.StatusRequestTimeout}},
}

// Status maps a framework error code to an HTTP status (500 for Internal,
// Unknown and codes it does not know).
func Status(c ferrors.Code) int {
	for _, s := range statuses {
		if s.code == c {
			return s.statuses[0]
		}
	}
	return http.StatusInternalServerError
}

// Code maps an HTTP status to the framework error code it stands for (the
// inverse of Status; Internal for a status Status never gives).
func Code(status int) ferrors.Code {
	for _, s := range statuses {
		if slices.Contains(s.statuses, status) {
			return s.code
		}
	}
	return ferrors.Internal
}

// NewProblem is an error reply of the component id.
func NewProblem(id string, status int, code ferrors.Code, detail string) *Problem {
	return &Problem{ID: id, Code: code.String(), Detail: detail, Status: status}
}

// problem builds the reply for err.
func problem(err error) *Problem {
	e := ferrors.FromError(err)
	return &Problem{ID: e.ID, Code: e.Code.String(), Detail: e.Detail, Status: Status(e.Code)}
}

// newProblem is an error of the gateway's own.
func newProblem(status int, code ferrors.Code, format string, args ...any) *Problem {
	e := ferrors.New(errorID, code, format, args...)
	return &Problem{ID: e.ID, Code: e.Code.String(), Detail: e.Detail, Status: status}
}

// WriteProblem sends p as a JSON error reply with p.Status.
func WriteProblem(w http.ResponseWriter, p *Problem) {
	b, err := json.Marshal(p)
	if err != nil { // a Problem holds only strings, ints and shapes
		b = []byte(`{"code":"internal","detail":"gateway: cannot encode error","status":500}`)
		p.Status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(b, '\n'))
}
