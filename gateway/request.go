package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	ferrors "github.com/microsim/microsim/framework/errors"
	"github.com/microsim/microsim/framework/metadata"
	"github.com/microsim/microsim/internal/jsonpos"
)

// Bounds on a route.
const (
	maxPathBytes    = 512
	maxSegmentBytes = 128
)

// call is a decoded HTTP request: what to call and with what.
type call struct {
	service string
	// handler and method come from the path, or from /rpc's endpoint.
	handler, method string
	body            []byte
	timeout         time.Duration // 0: the default
	md              metadata.MD
}

// skipHeaders are not passed on as metadata.
var skipHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Authorization": true, "Proxy-Connection": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true, "Host": true,
	"Content-Length": true, "Content-Type": true, "Accept": true, "Accept-Encoding": true, "Expect": true,
	"Origin": true, "Access-Control-Request-Method": true, "Access-Control-Request-Headers": true,
}

// decode turns r into a call, or into the problem that says why it cannot
// be one. It reads at most maxBody+1 bytes of the body.
func decode(r *http.Request, maxBody int64) (*call, *Problem) {
	c := &call{}
	path := r.URL.Path
	if len(path) > maxPathBytes {
		return nil, newProblem(http.StatusBadRequest, ferrors.BadRequest, "path is %d bytes; at most %d", len(path), maxPathBytes)
	}
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	rpc := len(segs) == 1 && segs[0] == "rpc"
	if !rpc {
		if p := c.route(segs); p != nil {
			return nil, p
		}
	}
	if r.Method != http.MethodPost {
		return nil, newProblem(http.StatusMethodNotAllowed, ferrors.BadRequest, "method %s: calls are POST %s", r.Method, path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return nil, newProblem(http.StatusUnsupportedMediaType, ferrors.BadRequest,
				"content type %q: send the request as application/json", clip(ct))
		}
	}
	body, p := readBody(r.Body, maxBody)
	if p != nil {
		return nil, p
	}
	if rpc {
		if p := c.envelope(body); p != nil {
			return nil, p
		}
	} else {
		if len(bytes.TrimSpace(body)) == 0 {
			body = []byte("{}")
		}
		if err := jsonpos.Check(body); err != nil {
			return nil, newProblem(http.StatusBadRequest, ferrors.BadRequest, "request body: %v", err)
		}
		c.body = body
	}
	if p := c.deadline(r); p != nil {
		return nil, p
	}
	c.md = headerMetadata(r.Header)
	return c, nil
}

// route reads /{service}/{method} or /{service}/{handler}/{method}.
func (c *call) route(segs []string) *Problem {
	if len(segs) < 2 || len(segs) > 3 {
		return newProblem(http.StatusNotFound, ferrors.NotFound,
			"no route %q: call POST /{service}/{method}, /{service}/{handler}/{method} or /rpc", clip("/"+strings.Join(segs, "/")))
	}
	for i, s := range segs {
		what, ok := "method", validName(s)
		if i == 0 {
			what, ok = "service", validService(s)
		} else if i == 1 && len(segs) == 3 {
			what = "handler"
		}
		if !ok {
			return newProblem(http.StatusBadRequest, ferrors.BadRequest,
				"%s name %q: use letters, digits and %s, at most %d bytes", what, clip(s), allowed(i == 0), maxSegmentBytes)
		}
	}
	c.service, c.method = segs[0], segs[len(segs)-1]
	if len(segs) == 3 {
		c.handler = segs[1]
	}
	return nil
}

func allowed(service bool) string {
	if service {
		return "'.', '_', '-', ':'"
	}
	return "'_'"
}

func validService(s string) bool {
	return validChars(s, func(r byte) bool { return r == '.' || r == '_' || r == '-' || r == ':' })
}

func validName(s string) bool { return validChars(s, func(r byte) bool { return r == '_' }) }

func validChars(s string, extra func(byte) bool) bool {
	if s == "" || len(s) > maxSegmentBytes || s == "." || s == ".." {
		return false
	}
	for i := range len(s) {
		b := s[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || extra(b)) {
			return false
		}
	}
	return true
}

// envelope reads the body of POST /rpc.
func (c *call) envelope(body []byte) *Problem {
	if err := jsonpos.Check(body); err != nil {
		return newProblem(http.StatusBadRequest, ferrors.BadRequest, "request body: %v", err)
	}
	var env struct {
		Service  string          `json:"service"`
		Endpoint string          `json:"endpoint"`
		Request  json.RawMessage `json:"request"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return newProblem(http.StatusBadRequest, ferrors.BadRequest,
			`/rpc body: %v; send {"service": "...", "endpoint": "Handler.Method", "request": {...}}`, err)
	}
	if !validService(env.Service) {
		return newProblem(http.StatusBadRequest, ferrors.BadRequest, "/rpc body: service %q: name a service (letters, digits, %s)", clip(env.Service), allowed(true))
	}
	handler, method, dotted := strings.Cut(env.Endpoint, ".")
	if !validName(method) || dotted && !validName(handler) {
		return newProblem(http.StatusBadRequest, ferrors.BadRequest, "/rpc body: endpoint %q: name it \"Handler.Method\"", clip(env.Endpoint))
	}
	c.service, c.method = env.Service, method
	if dotted {
		c.handler = handler
	}
	c.body = env.Request
	if len(bytes.TrimSpace(c.body)) == 0 || string(c.body) == "null" {
		c.body = []byte("{}")
	}
	return nil
}

// readBody reads at most maxBody bytes.
func readBody(r io.Reader, maxBody int64) ([]byte, *Problem) {
	if r == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r, maxBody+1))
	var mbe *http.MaxBytesError
	switch {
	case int64(len(b)) > maxBody || errors.As(err, &mbe):
		return nil, newProblem(http.StatusRequestEntityTooLarge, ferrors.ResourceExhausted,
			"request body is larger than %d bytes", maxBody)
	case err != nil:
		return nil, newProblem(http.StatusBadRequest, ferrors.BadRequest, "reading the request body: %v", err)
	}
	return b, nil
}

// deadline reads the Micro-Timeout header or the timeout query parameter.
func (c *call) deadline(r *http.Request) *Problem {
	v, from := r.Header.Get("Micro-Timeout"), "Micro-Timeout header"
	if q := r.URL.Query().Get("timeout"); q != "" {
		v, from = q, "timeout parameter"
	}
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return newProblem(http.StatusBadRequest, ferrors.BadRequest, "%s %q: give a positive duration such as 250ms or 2s", from, clip(v))
	}
	c.timeout = d
	return nil
}

// headerMetadata is the metadata a request's headers carry.
func headerMetadata(h http.Header) metadata.MD {
	md := metadata.MD{}
	for k, vs := range h {
		k = textproto.CanonicalMIMEHeaderKey(k)
		if skipHeaders[k] || metadata.IsReserved(k) || strings.HasPrefix(k, "Proxy-") {
			continue
		}
		md[k] = strings.Join(vs, ", ")
	}
	return md
}

// clip bounds what an error quotes of the input.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return fmt.Sprintf("%s...(%d bytes)", strings.ToValidUTF8(s[:max], ""), len(s))
}
