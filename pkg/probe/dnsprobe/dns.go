// Package dnsprobe probes dns://resolver[:port]/name?type=T replicas: it
// asks the resolver for the name's records of type T (A, AAAA, CNAME, MX,
// TXT or NS; A when the URL does not say) and is healthy when the answer
// holds at least one, and the node's dns_expect, when set, among them. A
// resolver that answers NXDOMAIN, SERVFAIL or nothing within
// poll_delay_dead, or with no record of the type, is dead. Questions go
// over UDP, and again over TCP when the answer was truncated.
package dnsprobe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/probe"
)

// Kind is the DNS probe kind.
func Kind() probe.Kind {
	return probe.Kind{
		ProbeKind: config.ProbeKind{Name: "dns", Schemes: []string{"dns"}, CheckURL: checkURL,
			Node: func() config.NodeTable { return &Node{} }},
		Prepare: prepare,
	}
}

// Node is the DNS probe's keys on a node.
type Node struct {
	// Expect is a value that must be among the answers of every dns://
	// replica of the node: an address for A and AAAA (compared as
	// addresses), a name for CNAME, MX (the mail host) and NS (without
	// case or the final dot), the text for TXT (its strings joined).
	Expect string `toml:"dns_expect"`
}

// CheckNode implements config.NodeTable.
func (n *Node) CheckNode(c *config.Check, node *config.Node) {
	if n.Expect == "" {
		return
	}
	found := false
	for i, raw := range node.Replicas {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "dns" {
			continue
		}
		found = true
		q, err := parseURL(u)
		if err != nil {
			continue // reported with the replica
		}
		if problem := q.expectProblem(n.Expect); problem != "" {
			c.Fail("dns_expect", "%q: %s, which replicas[%d] (type %s) answers", n.Expect, problem, i, q.typeName)
		}
	}
	if !found {
		c.Fail("dns_expect", "the node has no dns:// replica whose answers could hold %q; remove dns_expect or add one", n.Expect)
	}
}

// types are the record types a replica may ask for.
var types = map[string]uint16{
	"A": dns.TypeA, "AAAA": dns.TypeAAAA, "CNAME": dns.TypeCNAME,
	"MX": dns.TypeMX, "TXT": dns.TypeTXT, "NS": dns.TypeNS,
}

const typeList = "A, AAAA, CNAME, MX, TXT or NS"

// question is what a replica asks: name's records of a type, of a resolver.
type question struct {
	resolver string // host:port
	name     string // as written, without the final dot
	qtype    uint16
	typeName string // "A"
}

func checkURL(u *url.URL) string {
	const form = "write dns://resolver[:port]/name?type=A"
	switch {
	case u.Hostname() == "":
		return "missing resolver; " + form
	case u.User != nil || u.Fragment != "" || u.Opaque != "":
		return "dns replicas take a resolver, a name and a type only; " + form
	case u.Port() != "" && !config.IsPort(u.Port(), false):
		return fmt.Sprintf("bad port %q; want a number from 1 to 65535 (53 is usual)", u.Port())
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		return "missing name to look up; " + form
	}
	if problem := nameProblem(name); problem != "" {
		return fmt.Sprintf("%q: %s; %s", name, problem, form)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "bad query: " + err.Error() + "; " + form
	}
	for k, v := range q {
		switch {
		case k != "type":
			return fmt.Sprintf("unknown parameter %q; dns replicas take only type=%s", k, typeList)
		case len(v) != 1:
			return "give type once"
		case types[strings.ToUpper(v[0])] == 0:
			return fmt.Sprintf("unknown record type %q (want %s)", v[0], typeList)
		}
	}
	return ""
}

// nameProblem says what is wrong with a domain name, or "": labels of
// letters, digits, '-' and '_' (for _dmarc and the like), dot-separated.
func nameProblem(name string) string {
	if len(strings.TrimSuffix(name, ".")) > 253 {
		return "name longer than 253 characters"
	}
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if label == "" || len(label) > 63 {
			return "not a domain name (empty or over-long label)"
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Sprintf("%q is not allowed in a domain name", c)
			}
		}
	}
	return ""
}

// parseURL reads a replica URL that checkURL accepted.
func parseURL(u *url.URL) (question, error) {
	if problem := checkURL(u); problem != "" {
		return question{}, errors.New(problem)
	}
	port := u.Port()
	if port == "" {
		port = "53"
	}
	typeName := strings.ToUpper(u.Query().Get("type"))
	if typeName == "" {
		typeName = "A"
	}
	return question{resolver: net.JoinHostPort(u.Hostname(), port),
		name:  strings.TrimSuffix(strings.TrimPrefix(u.Path, "/"), "."),
		qtype: types[typeName], typeName: typeName}, nil
}

// expectProblem says why no answer to q could be want, or "".
func (q question) expectProblem(want string) string {
	switch q.qtype {
	case dns.TypeA:
		if a, err := netip.ParseAddr(want); err != nil || !a.Is4() {
			return "not an IPv4 address"
		}
	case dns.TypeAAAA:
		if a, err := netip.ParseAddr(want); err != nil || !a.Is6() || a.Is4In6() {
			return "not an IPv6 address"
		}
	case dns.TypeCNAME, dns.TypeMX, dns.TypeNS:
		if nameProblem(want) != "" {
			return "not a host name"
		}
	}
	return ""
}

// same reports whether answer a (as values gives it) is want.
func (q question) same(a, want string) bool {
	switch q.qtype {
	case dns.TypeA, dns.TypeAAAA:
		x, err1 := netip.ParseAddr(a)
		y, err2 := netip.ParseAddr(want)
		return err1 == nil && err2 == nil && x == y
	case dns.TypeTXT:
		return a == want
	}
	return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(want, "."))
}

type builder struct {
	dialer   *net.Dialer
	deadline time.Duration // poll_delay_dead
}

func prepare(env *probe.Env, _ config.Table) (probe.Builder, error) {
	return &builder{dialer: env.Dialer, deadline: env.Metrics.PollDelayDead.Duration()}, nil
}

// Target builds the check of n.Replicas[i].
func (b *builder) Target(n *config.Node, i int) (probe.Target, error) {
	u, err := url.Parse(n.Replicas[i])
	if err != nil {
		return nil, errors.New("want dns://resolver[:port]/name?type=A")
	}
	q, err := parseURL(u)
	if err != nil {
		return nil, err
	}
	t := &target{question: q, fqdn: dns.Fqdn(q.name), b: b,
		label: "dns " + q.resolver + " " + q.name + " " + q.typeName}
	if table, _ := n.Tables["dns"].(*Node); table != nil {
		t.expect = table.Expect
	}
	return t, nil
}

func (b *builder) NodeCheck(*config.Node) probe.NodeCheck { return nil }
func (b *builder) Close()                                 {}

// target is one dns:// replica.
type target struct {
	question
	fqdn   string
	expect string // a value the answers must hold; "" for any
	label  string // "dns 127.0.0.1:53 example.com A", for messages
	b      *builder
}

func (t *target) Probe(ctx context.Context) probe.Attempt {
	start := time.Now()
	m := new(dns.Msg)
	m.SetQuestion(t.fqdn, t.qtype)
	m.RecursionDesired = true
	r, err := t.exchange(ctx, "udp", m)
	if err == nil && r.Truncated {
		r, err = t.exchange(ctx, "tcp", m)
	}
	latency := time.Since(start)
	if err != nil {
		var ne net.Error
		if ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout() {
			return probe.Result(latency, fmt.Errorf("%s: no answer within %s", t.label, t.b.deadline))
		}
		return probe.Result(latency, fmt.Errorf("%s: %w", t.label, err))
	}
	if r.Rcode != dns.RcodeSuccess {
		rcode := dns.RcodeToString[r.Rcode]
		if rcode == "" {
			rcode = "rcode " + strconv.Itoa(r.Rcode)
		}
		return probe.Result(latency, errors.New(t.label+": "+rcode))
	}
	answers := t.values(r.Answer)
	switch {
	case len(answers) == 0:
		return probe.Result(latency, fmt.Errorf("%s: no %s record in the answer", t.label, t.typeName))
	case t.expect != "" && !slices.ContainsFunc(answers, func(a string) bool { return t.same(a, t.expect) }):
		return probe.Result(latency, fmt.Errorf("%s: answers %s; want %s", t.label, t.list(answers), t.show(t.expect)))
	}
	return probe.Result(latency, nil)
}

// exchange asks the question over network ("udp" or "tcp") on a fresh
// connection that ctx ending interrupts.
func (t *target) exchange(ctx context.Context, network string, m *dns.Msg) (*dns.Msg, error) {
	c := &dns.Client{Net: network, Dialer: t.b.dialer, Timeout: t.b.deadline}
	conn, err := c.DialContext(ctx, t.resolver)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// A deadline in the past wakes up a read that waits.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	r, _, err := c.ExchangeWithConnContext(ctx, m, conn)
	return r, err
}

// values are the answers of the asked type, as dns_expect is written: an
// address, a name without the final dot, the joined strings of a TXT.
// Other records (the CNAMEs on the way to an A) are left out.
func (t *target) values(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype != t.qtype {
			continue
		}
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, rr.A.String())
		case *dns.AAAA:
			out = append(out, rr.AAAA.String())
		case *dns.CNAME:
			out = append(out, strings.TrimSuffix(rr.Target, "."))
		case *dns.MX:
			out = append(out, strings.TrimSuffix(rr.Mx, "."))
		case *dns.NS:
			out = append(out, strings.TrimSuffix(rr.Ns, "."))
		case *dns.TXT:
			out = append(out, strings.Join(rr.Txt, ""))
		}
	}
	return out
}

// maxListed is how many answers a message lists.
const maxListed = 5

// list writes answers for a message: "192.0.2.1, 192.0.2.2".
func (t *target) list(answers []string) string {
	shown := make([]string, 0, maxListed)
	for _, a := range answers[:min(len(answers), maxListed)] {
		shown = append(shown, t.show(a))
	}
	s := strings.Join(shown, ", ")
	if more := len(answers) - maxListed; more > 0 {
		s += " and " + strconv.Itoa(more) + " more"
	}
	return s
}

// show writes one value for a message; texts are quoted.
func (t *target) show(v string) string {
	if t.qtype == dns.TypeTXT {
		return strconv.Quote(v)
	}
	return v
}
