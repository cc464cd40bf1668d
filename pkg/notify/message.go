package notify

import (
	"slices"
	"strconv"
	"strings"

	"github.com/overvakt/overvakt/pkg/status"
)

// TimeText is the message time as the webhook contract writes it:
// "08:58:28 UTC+0200".
func (m *Message) TimeText() string { return m.Time.Format("15:04:05 UTC-0700") }

// Headline is a one-line summary, used as e-mail subject, SMS start and
// chat title. A change names what went down and what recovered: "Acme
// Status: Web is down; 2 other services affected".
func (m *Message) Headline() string {
	title := m.PageTitle
	if title == "" {
		title = "Status page"
	}
	switch m.Kind {
	case Startup:
		return title + ": monitoring started, status " + m.Status.String()
	case Reminder:
		if what := m.stillDown(); what != "" {
			return title + ": reminder, " + what
		}
		return title + ": reminder, still " + m.Status.String()
	case Test:
		return title + ": test notification, status " + m.Status.String()
	default:
		if what := m.whatChanged(); what != "" {
			return title + ": " + what
		}
		return title + ": status changed to " + m.Status.String()
	}
}

// whatChanged words the node changes: the worst news first, the services
// behind it counted.
func (m *Message) whatChanged() string {
	var worse, better []NodeChange
	for _, n := range m.Nodes {
		if n.New > n.Old {
			worse = append(worse, n)
		} else if n.New < n.Old {
			better = append(better, n)
		}
	}
	// The dead before the sick, each in page order.
	sortWorstFirst(worse)
	var parts []string
	if len(worse) > 0 {
		first := worse[0]
		part := first.Label + " is " + wordFor(first.New)
		if others := otherServices(worse, first.Service); others > 0 {
			part += "; " + plural(others, "other service") + " affected"
		}
		parts = append(parts, part)
	}
	if len(better) > 0 {
		first := better[0]
		part := first.Label + " recovered"
		if others := otherServices(better, first.Service); others > 0 {
			part = first.Label + " and " + plural(others, "other service") + " recovered"
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, "; ")
}

// stillDown words a reminder's nodes: "Web is still down".
func (m *Message) stillDown() string {
	if len(m.Nodes) == 0 {
		return ""
	}
	nodes := slices.Clone(m.Nodes)
	sortWorstFirst(nodes)
	first := nodes[0]
	out := first.Label + " is still " + wordFor(first.New)
	if others := otherServices(nodes, first.Service); others > 0 {
		out += "; " + plural(others, "other service") + " too"
	}
	return out
}

func sortWorstFirst(nodes []NodeChange) {
	slices.SortStableFunc(nodes, func(a, b NodeChange) int { return int(b.New) - int(a.New) })
}

// wordFor is how a headline says a status.
func wordFor(s status.Status) string {
	switch s {
	case status.Dead:
		return "down"
	case status.Sick:
		return "sick"
	default:
		return "healthy"
	}
}

// otherServices counts the services of nodes other than service.
func otherServices(nodes []NodeChange, service string) int {
	seen := map[string]bool{service: true}
	for _, n := range nodes {
		seen[n.Service] = true
	}
	return len(seen) - 1
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// ChangeLines are the changes as lines (see Change.Text), then "and N
// more" when some were left out.
func (m *Message) ChangeLines() []string {
	out := make([]string, 0, len(m.Changes)+1)
	for _, c := range m.Changes {
		out = append(out, c.Text())
	}
	if m.ChangesMore > 0 {
		out = append(out, "and "+strconv.Itoa(m.ChangesMore)+" more")
	}
	return out
}

// Text is one change as a line: "web:core:tcp://a:80: healthy →
// dead (connection refused)".
func (c Change) Text() string {
	out := c.Replica + ": " + c.Old.String() + " → "
	if c.Gone {
		return out + "removed"
	}
	out += c.New.String()
	if c.Reason != "" {
		out += " (" + c.Reason + ")"
	}
	return out
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
	if len(m.Changes) > 0 {
		b.WriteString("\nWhat changed:\n")
		for _, c := range m.Changes {
			b.WriteString("- ")
			b.WriteString(item(c.Replica))
			b.WriteString(": ")
			b.WriteString(c.Old.String())
			b.WriteString(" → ")
			if c.Gone {
				b.WriteString("removed")
			} else {
				b.WriteString(c.New.String())
			}
			if c.Reason != "" && !c.Gone {
				b.WriteString(" (")
				b.WriteString(item(c.Reason))
				b.WriteString(")")
			}
			b.WriteString("\n")
		}
		if m.ChangesMore > 0 {
			b.WriteString("- and ")
			b.WriteString(strconv.Itoa(m.ChangesMore))
			b.WriteString(" more\n")
		}
	}
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
