package dnsprobe

import (
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/probe"
	"github.com/overvakt/overvakt/pkg/probe/probetest"
	"github.com/overvakt/overvakt/pkg/status"
)

// resolver is a DNS server on loopback, UDP and TCP on one port, that
// answers from a small zone:
//
//	example.test         A 192.0.2.1, 192.0.2.2; AAAA 2001:db8::1;
//	                     MX 10 Mail.Example.Test.; TXT "v=spf1 " "-all";
//	                     NS ns1.example.test.
//	www.example.test     CNAME example.test. (and its A records to an A question)
//	big.example.test     A 198.51.100.1-40, truncated over UDP
//	broken.example.test  SERVFAIL
//	slow.example.test    no answer at all
//	anything else        NXDOMAIN
type resolver struct {
	addr      string // host:port
	tcpAsked  atomic.Int32
	udpAsked  atomic.Int32
	servers   []*dns.Server
	closeOnce sync.Once
}

func startResolver(t *testing.T, host string) *resolver {
	t.Helper()
	r := &resolver{}
	mux := dns.NewServeMux()
	mux.HandleFunc(".", r.answer)
	// UDP and TCP on the same port: take a UDP port, then its TCP twin.
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ; try++ {
		var err error
		if pc, err = net.ListenPacket("udp", net.JoinHostPort(host, "0")); err != nil {
			t.Skipf("no %s loopback here: %v", host, err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
		if try == 20 {
			t.Fatalf("no free TCP port beside a UDP one: %v", err)
		}
	}
	r.addr = pc.LocalAddr().String()
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: mux}, {Listener: ln, Handler: mux}} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		r.servers = append(r.servers, s)
		go s.ActivateAndServe()
		<-started
	}
	t.Cleanup(func() {
		for _, s := range r.servers {
			s.Shutdown()
		}
	})
	return r
}

func (r *resolver) answer(w dns.ResponseWriter, q *dns.Msg) {
	udp := w.LocalAddr().Network() == "udp"
	if udp {
		r.udpAsked.Add(1)
	} else {
		r.tcpAsked.Add(1)
	}
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	question := q.Question[0]
	name := strings.ToLower(question.Name)
	rr := func(s string) dns.RR {
		rr, err := dns.NewRR(s)
		if err != nil {
			panic(err)
		}
		return rr
	}
	apex := map[uint16][]string{
		dns.TypeA:    {"example.test. 60 IN A 192.0.2.1", "example.test. 60 IN A 192.0.2.2"},
		dns.TypeAAAA: {"example.test. 60 IN AAAA 2001:db8::1"},
		dns.TypeMX:   {"example.test. 60 IN MX 10 Mail.Example.Test."},
		dns.TypeTXT:  {`example.test. 60 IN TXT "v=spf1 " "-all"`},
		dns.TypeNS:   {"example.test. 60 IN NS ns1.example.test."},
	}
	switch name {
	case "example.test.":
		for _, s := range apex[question.Qtype] {
			m.Answer = append(m.Answer, rr(s))
		}
	case "www.example.test.":
		m.Answer = append(m.Answer, rr("www.example.test. 60 IN CNAME example.test."))
		if question.Qtype == dns.TypeA {
			for _, s := range apex[dns.TypeA] {
				m.Answer = append(m.Answer, rr(s))
			}
		}
	case "big.example.test.":
		if udp {
			m.Truncated = true
			break
		}
		for i := 1; i <= 40; i++ {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: question.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A: net.IPv4(198, 51, 100, byte(i))})
		}
	case "broken.example.test.":
		m.Rcode = dns.RcodeServerFailure
	case "slow.example.test.":
		return // no answer
	default:
		m.Rcode = dns.RcodeNameError
	}
	w.WriteMsg(m)
}

// dnsNode is a poll node with these replicas and, unless "", dns_expect.
func dnsNode(expect string, replicas ...string) config.Node {
	n := probetest.PollNode(map[string]config.NodeTable{"dns": &Node{Expect: expect}}, replicas...)
	return n
}

func TestDNS(t *testing.T) {
	r := startResolver(t, "127.0.0.1")
	at := "dns://" + r.addr + "/"
	scenarios := []struct {
		name    string
		replica string
		expect  string
		want    status.Status
		wantErr string
	}{
		{name: "A records, type by default", replica: at + "example.test", want: status.Healthy},
		{name: "name with a final dot, type in lower case", replica: at + "example.test.?type=a", want: status.Healthy},
		{name: "expected address among the answers", replica: at + "example.test?type=A", expect: "192.0.2.2", want: status.Healthy},
		{name: "expected address missing", replica: at + "example.test?type=A", expect: "192.0.2.9", want: status.Dead,
			wantErr: "dns " + r.addr + " example.test A: answers 192.0.2.1, 192.0.2.2; want 192.0.2.9"},
		{name: "AAAA compared as addresses", replica: at + "example.test?type=AAAA", expect: "2001:0db8:0:0::1", want: status.Healthy},
		{name: "A through a CNAME", replica: at + "www.example.test?type=A", expect: "192.0.2.1", want: status.Healthy},
		{name: "CNAME without case or final dot", replica: at + "www.example.test?type=CNAME", expect: "EXAMPLE.test", want: status.Healthy},
		{name: "MX host", replica: at + "example.test?type=MX", expect: "mail.example.test.", want: status.Healthy},
		{name: "NS", replica: at + "example.test?type=NS", expect: "ns1.example.test", want: status.Healthy},
		{name: "TXT strings joined", replica: at + "example.test?type=TXT", expect: "v=spf1 -all", want: status.Healthy},
		{name: "TXT that differs", replica: at + "example.test?type=TXT", expect: "v=spf1 ~all", want: status.Dead,
			wantErr: `example.test TXT: answers "v=spf1 -all"; want "v=spf1 ~all"`},
		{name: "no record of the type", replica: at + "www.example.test?type=MX", want: status.Dead,
			wantErr: "dns " + r.addr + " www.example.test MX: no MX record in the answer"},
		{name: "NXDOMAIN", replica: at + "missing.example.test", want: status.Dead,
			wantErr: "dns " + r.addr + " missing.example.test A: NXDOMAIN"},
		{name: "SERVFAIL", replica: at + "broken.example.test?type=TXT", want: status.Dead,
			wantErr: "dns " + r.addr + " broken.example.test TXT: SERVFAIL"},
		{name: "no answer within poll_delay_dead", replica: at + "slow.example.test", want: status.Dead,
			wantErr: "dns " + r.addr + " slow.example.test A: no answer within 1s"},
		{name: "nothing listening", replica: "dns://" + probetest.ClosedPort(t) + "/example.test?type=TCP", want: status.Dead},
	}
	for _, sc := range scenarios {
		if strings.HasSuffix(sc.replica, "?type=TCP") {
			sc.replica = strings.TrimSuffix(sc.replica, "?type=TCP") // UDP to a closed port: refused
			sc.wantErr = "connection refused"
		}
		t.Run(sc.name, func(t *testing.T) {
			cfg := probetest.Config(dnsNode(sc.expect, sc.replica))
			cfg.Metrics.PollDelayDead, cfg.Metrics.PollDelaySick = 1, 0.5
			rep := probetest.FirstResult(t, cfg, []probe.Kind{Kind()})
			if rep.Status != sc.want || !strings.Contains(rep.Error, sc.wantErr) || (sc.wantErr == "" && rep.Error != "") {
				t.Errorf("got %s %q, want %s %q", rep.Status, rep.Error, sc.want, sc.wantErr)
			}
			if rep.Status == status.Healthy && rep.Latency <= 0 {
				t.Errorf("latency %v, want the exchange's", rep.Latency)
			}
		})
	}
}

func TestDNSTruncatedAnswerIsAskedAgainOverTCP(t *testing.T) {
	r := startResolver(t, "127.0.0.1")
	cfg := probetest.Config(dnsNode("198.51.100.40", "dns://"+r.addr+"/big.example.test"))
	rep := probetest.FirstResult(t, cfg, []probe.Kind{Kind()})
	if rep.Status != status.Healthy {
		t.Errorf("got %s %q, want healthy from the TCP answer", rep.Status, rep.Error)
	}
	if udp, tcp := r.udpAsked.Load(), r.tcpAsked.Load(); udp != 1 || tcp != 1 {
		t.Errorf("asked %d times over UDP and %d over TCP, want once each", udp, tcp)
	}
}

func TestDNSResolverOnIPv6(t *testing.T) {
	r := startResolver(t, "::1")
	_, port, _ := net.SplitHostPort(r.addr)
	cfg := probetest.Config(dnsNode("2001:db8::1", "dns://[::1]:"+port+"/example.test?type=AAAA"))
	rep := probetest.FirstResult(t, cfg, []probe.Kind{Kind()})
	if rep.Status != status.Healthy {
		t.Errorf("got %s %q, want healthy", rep.Status, rep.Error)
	}
}

func TestDNSStopsWithTheContext(t *testing.T) {
	r := startResolver(t, "127.0.0.1")
	cfg := probetest.Config(dnsNode("", "dns://"+r.addr+"/slow.example.test"))
	cfg.Metrics.PollDelayDead, cfg.Metrics.PollDelaySick = 60, 30
	run := probetest.Start(t, cfg, []probe.Kind{Kind()}, nil)
	time.Sleep(100 * time.Millisecond)
	stopped := make(chan struct{})
	go func() { run.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(2 * time.Second):
		t.Fatal("a probe waiting for an answer held the scheduler past its stop")
	}
}

func TestDNSNoFileDescriptorsIsInconclusive(t *testing.T) {
	r := startResolver(t, "127.0.0.1")
	cfg := probetest.Config(dnsNode("", "dns://"+r.addr+"/example.test"))
	b, err := Kind().Prepare(&probe.Env{Metrics: &cfg.Metrics, Dialer: &net.Dialer{KeepAlive: -1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	target, err := b.Target(&cfg.Probe.Services[0].Nodes[0], 0)
	if err != nil {
		t.Fatal(err)
	}
	var a probe.Attempt
	probetest.WithoutFDs(t, func() { a = target.Probe(t.Context()) })
	if !a.Inconclusive || !strings.HasPrefix(a.Err, "this server has no file descriptors left") {
		t.Errorf("got %+v, want an inconclusive attempt blaming the file descriptors", a)
	}
}

func TestCheckURL(t *testing.T) {
	scenarios := []struct{ url, want string }{
		{"dns://127.0.0.1/example.com", ""},
		{"dns://127.0.0.1:5353/_dmarc.example.com?type=TXT", ""},
		{"dns://[2001:db8::53]/example.com?type=aaaa", ""},
		{"dns://resolver.internal/example.com.?type=NS", ""},
		{"dns:///example.com", "missing resolver"},
		{"dns://127.0.0.1", "missing name to look up"},
		{"dns://127.0.0.1/", "missing name to look up"},
		{"dns://127.0.0.1/example.com/", `"example.com/": '/' is not allowed`},
		{"dns://127.0.0.1/exa mple.com", `' ' is not allowed`},
		{"dns://127.0.0.1/a..b", "empty or over-long label"},
		{"dns://127.0.0.1:99999/example.com", `bad port "99999"`},
		{"dns://127.0.0.1/example.com?type=SOA", `unknown record type "SOA" (want A, AAAA, CNAME, MX, TXT or NS)`},
		{"dns://127.0.0.1/example.com?type=A&type=MX", "give type once"},
		{"dns://127.0.0.1/example.com?class=IN", `unknown parameter "class"`},
		{"dns://u:p@127.0.0.1/example.com", "take a resolver, a name and a type only"},
	}
	for _, sc := range scenarios {
		t.Run(sc.url, func(t *testing.T) {
			u, err := url.Parse(sc.url)
			if err != nil {
				t.Fatal(err)
			}
			got := checkURL(u)
			if (sc.want == "") != (got == "") || !strings.Contains(got, sc.want) {
				t.Errorf("checkURL = %q, want %q", got, sc.want)
			}
		})
	}
}

func TestCheckNode(t *testing.T) {
	scenarios := []struct {
		name, expect string
		replicas     []string
		want         string
	}{
		{"no expectation", "", []string{"https://example.com/"}, ""},
		{"address for A", "192.0.2.1", []string{"dns://127.0.0.1/example.com"}, ""},
		{"name for A", "example.net", []string{"dns://127.0.0.1/example.com"}, `"example.net": not an IPv4 address, which replicas[0] (type A) answers`},
		{"IPv4 for AAAA", "192.0.2.1", []string{"https://x/", "dns://127.0.0.1/example.com?type=AAAA"}, "not an IPv6 address, which replicas[1] (type AAAA)"},
		{"address for MX", "192.0.2.1", []string{"dns://127.0.0.1/example.com?type=MX"}, ""}, // an address is a valid host name too
		{"text for TXT", "v=spf1 -all", []string{"dns://127.0.0.1/example.com?type=TXT"}, ""},
		{"no dns replica", "192.0.2.1", []string{"https://example.com/"}, "the node has no dns:// replica"},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			text := "[server]\nmanager_token = \"manager-token-0123456789\"\nreporter_token = \"reporter-token-0123456789\"\n" +
				"[[probe.service]]\nid = \"s\"\n[[probe.service.node]]\nid = \"n\"\nmode = \"poll\"\n" +
				"replicas = [\"" + strings.Join(sc.replicas, "\", \"") + "\"]\n"
			if sc.expect != "" {
				text += "dns_expect = " + strconv.Quote(sc.expect) + "\n"
			}
			// The dns kind, and one that takes https:// replicas.
			kinds := config.Kinds{Probes: []config.ProbeKind{Kind().ProbeKind, {Name: "web", Schemes: []string{"https"}}}}
			_, err := config.Parse("t.toml", []byte(text), nil, kinds)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if (sc.want == "") != (got == "") || !strings.Contains(got, sc.want) {
				t.Errorf("problems %q, want %q", got, sc.want)
			}
		})
	}
}
