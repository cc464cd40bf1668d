package xmpp

import (
	"context"
	"encoding/xml"
	"errors"
	"testing"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/overvakt/overvakt/pkg/notify"
)

// saslFailure is a SASL <failure/> as mellium returns it: an error that
// writes itself as XML.
type saslFailure struct{ condition string }

func (f saslFailure) Error() string { return "server says: " + f.condition }
func (f saslFailure) TokenReader() xml.TokenReader {
	ns := "urn:ietf:params:xml:ns:xmpp-sasl"
	return xmlstream.Wrap(
		xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: ns, Local: f.condition}}),
		xml.StartElement{Name: xml.Name{Space: ns, Local: "failure"}})
}

// The cases Prosody does not make on demand: a temporary login failure and
// the stanza error types other than cancel.
func TestRetryClass(t *testing.T) {
	to := jid.MustParse("nobody@localhost")
	bounce := func(typ stanza.ErrorType, cond stanza.Condition) error {
		return &rejectedError{to: to, err: stanza.Error{Type: typ, Condition: cond}}
	}
	tests := []struct {
		name      string
		err       error
		permanent bool
	}{
		{"not-authorized", &authError{saslFailure{"not-authorized"}}, true},
		{"account-disabled", &authError{saslFailure{"account-disabled"}}, true},
		{"temporary-auth-failure", &authError{saslFailure{"temporary-auth-failure"}}, false},
		{"server signature does not match", &authError{sasl.ErrAuthn}, true},
		{"cancel: service-unavailable", bounce(stanza.Cancel, stanza.ServiceUnavailable), true},
		{"modify: jid-malformed", bounce(stanza.Modify, stanza.JIDMalformed), true},
		{"auth: forbidden", bounce(stanza.Auth, stanza.Forbidden), true},
		{"wait: resource-constraint", bounce(stanza.Wait, stanza.ResourceConstraint), false},
		{"no type", bounce("", stanza.UndefinedCondition), false},
		{"network", errors.New("read tcp: connection reset by peer"), false},
	}
	n := &Notifier{from: "sender@localhost", to: to, server: "127.0.0.1:5222"}
	for _, tt := range tests {
		err := n.fail(context.Background(), tt.err)
		if got := notify.IsPermanent(err); got != tt.permanent {
			t.Errorf("%s: IsPermanent(%q) = %v, want %v", tt.name, err, got, tt.permanent)
		}
	}
}
