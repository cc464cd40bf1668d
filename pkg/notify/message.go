package notify

import (
	"strconv"
	"strings"
)

// TimeText is the message time as the webhook contract writes it:
// "08:58:28 UTC+0200".
func (m *Message) TimeText() string { return m.Time.Format("15:04:05 UTC-0700") }

// Headline is a one-line summary, used as e-mail subject, SMS start and chat title.
func (m *Message) Headline() string {
	title := m.PageTitle
	if title == "" {
		title = "Status page"
	}
	switch m.Kind {
	case Startup:
		return title + ": monitoring started, status " + m.Status.String()
	case Reminder:
		return title + ": reminder, still " + m.Status.String()
	case Test:
		return title + ": test notification, status " + m.Status.String()
	default:
		return title + ": status changed to " + m.Status.String()
	}
}

// Text is the plain-text body every channel can use as it is.
func (m *Message) Text() string {
	return m.body(m.Headline(), func(s string) string { return s }) + "\n"
}

// Markdown is the body for chats that render Markdown (Zulip, Webex): a bold
// headline, replica names as code so nothing in them is taken as markup.
func (m *Message) Markdown() string {
	return m.body("**"+m.Headline()+"**", codeSpan)
}

func (m *Message) body(headline string, item func(string) string) string {
	var b strings.Builder
	b.WriteString(headline)
	b.WriteString("\n")
	writeList(&b, "Affected replicas", m.Replicas, m.More, item)
	writeList(&b, "Recovered", m.Recovered, m.RecoveredMore, item)
	writeList(&b, "Notes", m.Notes, 0, item)
	b.WriteString("\nTime: ")
	b.WriteString(m.TimeText())
	if m.PageURL != "" {
		b.WriteString("\nPage: ")
		b.WriteString(m.PageURL)
	}
	return b.String()
}

// codeSpan shows s as written, whatever Markdown it holds.
func codeSpan(s string) string {
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

func writeList(b *strings.Builder, title string, items []string, more int, item func(string) string) {
	if len(items) == 0 {
		return
	}
	b.WriteString("\n")
	b.WriteString(title)
	b.WriteString(":\n")
	for _, it := range items {
		b.WriteString("- ")
		b.WriteString(item(it))
		b.WriteString("\n")
	}
	if more > 0 {
		b.WriteString("- and ")
		b.WriteString(strconv.Itoa(more))
		b.WriteString(" more\n")
	}
}
