package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"strconv"
)

// net/http answers a request it cannot read — a bad percent-escape in the
// path, a malformed request line or header, headers too large — itself,
// before any handler runs, with a plain-text body written straight to the
// connection. jsonErrors catches those writes and sends the documented
// {"error":"…"} instead, with the same status code.
//
// The writes are recognised exactly: net/http makes each with one Write of
// "HTTP/1.1 <status>" + rawErrorHeaders + <body>, where the body repeats the
// status or is "Unsupported transfer encoding". A handler's answer never
// looks like that: net/http gives it a Date header first.

// rawErrorHeaders are the headers of net/http's own error answers.
const rawErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// jsonErrors wraps a listener so its connections rewrite net/http's own
// error answers.
type jsonErrors struct{ net.Listener }

func (l jsonErrors) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &jsonErrorConn{Conn: c}, nil
}

// jsonErrorConn is a connection whose raw error answers become JSON.
type jsonErrorConn struct{ net.Conn }

func (c *jsonErrorConn) Write(p []byte) (int, error) {
	if out, ok := rawErrorAsJSON(p); ok {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// CloseWrite keeps net/http's half-close before it closes a connection
// (it looks for the method on the connection).
func (c *jsonErrorConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps the connection's own ReadFrom (sendfile on TCP) for
// bodies copied to it; those are never raw error answers.
func (c *jsonErrorConn) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(c.Conn, r)
}

// rawErrorAsJSON turns one of net/http's own error answers into the same
// answer with a JSON body; ok is false for anything else.
func rawErrorAsJSON(p []byte) (out []byte, ok bool) {
	const proto = "HTTP/1.1 "
	if !bytes.HasPrefix(p, []byte(proto)) {
		return nil, false
	}
	i := bytes.Index(p, []byte(rawErrorHeaders))
	if i < 0 {
		return nil, false
	}
	status, body := string(p[len(proto):i]), string(p[i+len(rawErrorHeaders):])
	if len(status) < 5 || status[3] != ' ' || (body != status && body != "Unsupported transfer encoding") {
		return nil, false
	}
	code, err := strconv.Atoi(status[:3])
	if err != nil || code < 400 || code > 599 {
		return nil, false
	}
	reason, detail, _ := bytes.Cut([]byte(status[4:]), []byte(": "))
	var msg string
	switch {
	case code == 431:
		msg = "the request headers are too large; send less than 64 KiB of them"
	case code == 501:
		msg = "unsupported transfer encoding: send the body as it is, or chunked"
	case len(detail) > 0:
		msg = "malformed request: " + string(detail)
	default:
		msg = "malformed request: the request line or a header cannot be read, " +
			"for example a bad percent-escape in the path (write a literal % as %25)"
	}
	js, _ := json.Marshal(map[string]string{"error": msg}) // a string map always encodes
	js = append(js, '\n')
	var b bytes.Buffer
	b.WriteString(proto + status[:4])
	b.Write(reason)
	b.WriteString("\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ")
	b.WriteString(strconv.Itoa(len(js)))
	b.WriteString("\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n")
	b.Write(js)
	return b.Bytes(), true
}
