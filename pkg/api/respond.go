package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

// writeError answers {"error": msg} with the given status code.
func writeError(w http.ResponseWriter, code int, msg string) {
	body, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	writeJSONBytes(w, code, body)
}

// writeJSON answers v as JSON with status 200.
func writeJSON(w http.ResponseWriter, v any) { writeJSONCode(w, http.StatusOK, v) }

// writeJSONCode answers v as JSON with the given status code.
func writeJSONCode(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encode response: "+err.Error())
		return
	}
	writeJSONBytes(w, code, body)
}

func writeJSONBytes(w http.ResponseWriter, code int, body []byte) {
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	// Set here, on answers with a body, rather than on every request: see
	// writeOK.
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// writeOK answers 200 with an empty body, as the protocol wants for writes.
// net/http adds "Content-Length: 0" itself when nothing is written. It does
// not touch w.Header(): once a handler has asked for the header map,
// net/http copies it when the status is written, three allocations on every
// report.
func writeOK(w http.ResponseWriter) {
	w.WriteHeader(http.StatusOK)
}

// errBodyTooLarge marks a body over MaxBody.
var errBodyTooLarge = errors.New("request body too large")

// readBody reads the whole body into a pooled buffer, refusing more than
// MaxBody bytes. The caller must hand the buffer back with a.putBuf.
func (a *API) readBody(r *http.Request) (*[]byte, error) {
	if r.ContentLength > MaxBody {
		return nil, errBodyTooLarge
	}
	bp := a.bufs.Get().(*[]byte)
	b := (*bp)[:0]
	for {
		if len(b) == cap(b) {
			if len(b) > MaxBody {
				*bp = b
				a.putBuf(bp)
				return nil, errBodyTooLarge
			}
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			*bp = b
			a.putBuf(bp)
			return nil, err
		}
	}
	*bp = b
	if len(b) > MaxBody {
		a.putBuf(bp)
		return nil, errBodyTooLarge
	}
	return bp, nil
}

// putBuf returns a body buffer to the pool; rare large ones are dropped so
// the pool does not pin memory.
func (a *API) putBuf(bp *[]byte) {
	if cap(*bp) > 8<<10 {
		return
	}
	*bp = (*bp)[:0]
	a.bufs.Put(bp)
}

// bodyError answers a failed body read: 413 when too large, 400 otherwise.
func bodyError(w http.ResponseWriter, err error) {
	if errors.Is(err, errBodyTooLarge) {
		writeError(w, http.StatusRequestEntityTooLarge, "request body is larger than "+strconv.Itoa(MaxBody)+" bytes")
		return
	}
	writeError(w, http.StatusBadRequest, "read request body: "+err.Error())
}

// notFound answers a path the router matched but whose parameters do not
// decode.
func notFound(c echo.Context) {
	r := c.Request()
	writeError(c.Response(), http.StatusNotFound, "no such route: "+r.Method+" "+r.URL.Path+" (see docs/protocol.md)")
}
