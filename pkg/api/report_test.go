package api

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/overvakt/overvakt/pkg/names"
)

func TestParseReport(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name, body string
		replica    string
		interval   float64
		load       bool
		cpu, ram   float64
		health     string // "" when absent
	}{
		{"push", `{"replica":"host-1","interval":30,"load":{"cpu":0.42,"ram":0.61}}`, "host-1", 30, true, 0.42, 0.61, ""},
		{"local", `{"replica":"10.0.0.3","interval":120,"health":"sick"}`, "10.0.0.3", 120, false, nan, nan, "sick"},
		{"whitespace everywhere", " \n{ \"replica\" : \"h\" ,\t\"interval\":\r\n5 , \"load\" : { \"ram\" : 1 , \"cpu\" : 0 } } \n", "h", 5, true, 0, 1, ""},
		{"key order and unknown keys", `{"x":[1,{"a":[true,false,null]},"s"],"load":{"cpu":1.5e0,"ram":2E-1,"swap":9},"interval":1.5,"replica":"r","extra":{}}`, "r", 1.5, true, 1.5, 0.2, ""},
		{"escapes in strings", `{"replica":"a\"b\\c\/d\u00e9\ud83d\ude00","interval":1,"health":"h\u0065althy"}`, "a\"b\\c/dé😀", 1, false, nan, nan, "healthy"},
		{"lone surrogate becomes U+FFFD", `{"replica":"x\ud800y","interval":1,"health":"dead"}`, "x\uFFFDy", 1, false, nan, nan, "dead"},
		{"escaped key", `{"re\u0070lica":"k","interval":1,"health":"dead"}`, "k", 1, false, nan, nan, "dead"},
		{"null values are absent", `{"replica":"n","interval":2,"load":null,"health":null}`, "n", 2, false, nan, nan, ""},
		{"last duplicate wins", `{"replica":"a","replica":"b","interval":1,"interval":2,"health":"sick"}`, "b", 2, false, nan, nan, "sick"},
		{"both load and health", `{"replica":"b","interval":1,"load":{"cpu":0,"ram":0},"health":"dead"}`, "b", 1, true, 0, 0, "dead"},
		{"negative zero and big numbers", `{"replica":"z","interval":123456789012345678901234567890,"load":{"cpu":-0,"ram":0.000001}}`, "z", 123456789012345678901234567890, true, 0, 0.000001, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p reportParser
			var rep report
			if msg := p.parse([]byte(tc.body), &rep); msg != "" {
				t.Fatalf("parse failed: %s", msg)
			}
			if string(rep.replica) != tc.replica || !sameFloat(rep.interval, tc.interval) ||
				rep.hasLoad != tc.load || !sameFloat(rep.cpu, tc.cpu) || !sameFloat(rep.ram, tc.ram) ||
				string(rep.health) != tc.health || rep.hasHealth != (tc.health != "") {
				t.Fatalf("got replica %q interval %v load %v %v/%v health %q (%v)", rep.replica, rep.interval,
					rep.hasLoad, rep.cpu, rep.ram, rep.health, rep.hasHealth)
			}
		})
	}
}

func sameFloat(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

func TestParseReportRejects(t *testing.T) {
	bad := []string{
		``, `null`, `"s"`, `{`, `{"replica"}`, `{"replica":}`, `{"replica":"a",}`, `{,}`, `{"a":1}}`,
		`{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":-}`, `{"a":+1}`, `{"a":tru}`, `{"a":nul}`,
		`{"a":"\x"}`, `{"a":"\u12"}`, "{\"a\":\"tab\there\"}", `{"a":[1,]}`, `{"a":[1 2]}`, `{'a':1}`,
		`{"a":"x"` + "\x00" + `}`, `{"a":1} {}`,
		`{"a":` + strings.Repeat("[", maxDepth+2) + strings.Repeat("]", maxDepth+2) + `}`,
	}
	for _, b := range bad {
		var p reportParser
		var rep report
		if msg := p.parse([]byte(b), &rep); msg == "" {
			t.Errorf("parse(%q) succeeded, want an error", b)
		}
	}
}

// TestParseFloatMatchesStrconv checks the fast path against strconv on
// short decimals, the shape reporters send.
func TestParseFloatMatchesStrconv(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		var s string
		switch r.IntN(3) {
		case 0:
			s = strconv.FormatFloat(r.Float64()*math.Pow(10, float64(r.IntN(8))), 'f', r.IntN(17), 64)
		case 1:
			s = strconv.FormatUint(r.Uint64()>>r.IntN(64), 10)
		default:
			s = "0." + strconv.FormatUint(r.Uint64()%1e15, 10)
		}
		if r.IntN(2) == 0 {
			s = "-" + s
		}
		want, _ := strconv.ParseFloat(s, 64)
		got, ok := parseFloat([]byte(s))
		if !ok || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("parseFloat(%q) = %v, %v; strconv says %v", s, got, ok, want)
		}
	}
}

// FuzzParseReport checks the parser against encoding/json: it accepts only
// valid JSON, and on valid JSON it finds the same values. What the checks
// after it let through keeps the protocol's limits.
func FuzzParseReport(f *testing.F) {
	for _, s := range []string{
		`{"replica":"host-1","interval":30,"load":{"cpu":0.42,"ram":0.61}}`,
		`{"replica":"10.0.0.3","interval":120,"health":"sick"}`,
		`{"replica":"a\u00e9\ud83d\ude00","interval":1e1,"x":[{"y":null}],"health":"dead"}`,
		`{"replica":null,"interval":-0.0,"load":null}`,
		`{"load":{"cpu":1E+2,"ram":"x"}}`,
		` { } `, `[]`, `{"a":"\ud800\u0041"}`,
		`{"replica":"db\u202e1","interval":1e-300,"load":{"cpu":1e308,"ram":1.5}}`,
		`{"replica":"h","interval":604800,"load":{"cpu":1000,"ram":1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p reportParser
		var rep report
		msg := p.parse(b, &rep)
		if !json.Valid(b) {
			if msg == "" {
				t.Fatalf("accepted invalid JSON %q", b)
			}
			return
		}
		want, ok := referenceReport(b)
		if !ok {
			if msg == "" {
				t.Fatalf("accepted %q, which has a field of the wrong type", b)
			}
			return
		}
		if msg != "" {
			if strings.Contains(msg, "nested too deeply") {
				return
			}
			t.Fatalf("rejected valid %q: %s", b, msg)
		}
		if rep.hasReplica != want.hasReplica || rep.hasHealth != want.hasHealth || rep.hasLoad != want.hasLoad ||
			!sameFloat(rep.interval, want.interval) || !sameFloat(rep.cpu, want.cpu) || !sameFloat(rep.ram, want.ram) {
			t.Fatalf("%q: got %+v, want %+v", b, rep, want)
		}
		// encoding/json turns invalid UTF-8 into U+FFFD; the parser keeps it
		// for the name check to refuse.
		if utf8.Valid(rep.replica) && string(rep.replica) != string(want.replica) ||
			utf8.Valid(rep.health) && string(rep.health) != string(want.health) {
			t.Fatalf("%q: got strings %q %q, want %q %q", b, rep.replica, rep.health, want.replica, want.health)
		}
		if checkReport(&rep) != "" {
			return
		}
		if len(rep.replica) == 0 || len(rep.replica) > MaxReplicaName || names.ProblemBytes(rep.replica) != "" ||
			rep.interval < MinInterval.Seconds() || rep.interval > MaxInterval.Seconds() ||
			rep.hasLoad && !(rep.cpu >= 0 && rep.cpu <= MaxCPU && rep.ram >= 0 && rep.ram <= MaxRAM) {
			t.Fatalf("%q passed the checks with %+v", b, rep)
		}
		if _, ok := parseHealth(rep.health); !rep.hasLoad && !ok {
			t.Fatalf("%q passed the checks with health %q", b, rep.health)
		}
	})
}

// referenceReport decodes b with encoding/json the way the parser should;
// ok is false when a known key has the wrong type or a number is out of
// range.
func referenceReport(b []byte) (rep report, ok bool) {
	rep = report{interval: math.NaN(), cpu: math.NaN(), ram: math.NaN()}
	var top any
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	if d.Decode(&top) != nil {
		return rep, false
	}
	obj, isObj := top.(map[string]any)
	if !isObj {
		return rep, false
	}
	str := func(v any) ([]byte, bool, bool) {
		switch s := v.(type) {
		case nil:
			return nil, false, true
		case string:
			return []byte(s), true, true
		}
		return nil, false, false
	}
	num := func(v any) (float64, bool) {
		switch n := v.(type) {
		case nil:
			return math.NaN(), true
		case json.Number:
			f, err := strconv.ParseFloat(string(n), 64)
			return f, err == nil
		}
		return 0, false
	}
	if v, has := obj["replica"]; has {
		if rep.replica, rep.hasReplica, ok = str(v); !ok {
			return rep, false
		}
	}
	if v, has := obj["health"]; has {
		if rep.health, rep.hasHealth, ok = str(v); !ok {
			return rep, false
		}
	}
	if v, has := obj["interval"]; has {
		if rep.interval, ok = num(v); !ok {
			return rep, false
		}
	}
	if v, has := obj["load"]; has && v != nil {
		load, isObj := v.(map[string]any)
		if !isObj {
			return rep, false
		}
		rep.hasLoad = true
		if c, has := load["cpu"]; has {
			if rep.cpu, ok = num(c); !ok {
				return rep, false
			}
		}
		if r, has := load["ram"]; has {
			if rep.ram, ok = num(r); !ok {
				return rep, false
			}
		}
	}
	return rep, true
}
