package app

import (
	"context"

	"github.com/overvakt/overvakt/pkg/notice"
	"github.com/overvakt/overvakt/pkg/notify"
	"github.com/overvakt/overvakt/pkg/notify/email"
)

// mailer sends subscribers' mails through the SMTP server of the e-mail
// channel ([notify.email]), from its address.
type mailer struct{ n *email.Notifier }

var _ notice.Mailer = mailer{}

func (m mailer) Send(ctx context.Context, mail notice.Mail) error {
	return m.n.Mail(ctx, email.Mail{To: []string{mail.To}, Subject: mail.Subject, Text: mail.Text, Headers: mail.Headers})
}

// mailerOf finds the e-mail channel among chans; nil without one.
func mailerOf(chans []notify.Channel) notice.Mailer {
	for _, ch := range chans {
		if n, ok := ch.Notifier.(*email.Notifier); ok {
			return mailer{n}
		}
	}
	return nil
}
