// Package rabbitmq reads the depth of a RabbitMQ queue from the management
// HTTP API and turns it into a node status.
//
// Rule: a node is dead when its queue holds more ready messages than
// queue_ready_dead_above or more unacknowledged ones than
// queue_nack_dead_above; otherwise it is sick when either count is at or over
// its *_healthy_below limit; otherwise healthy. A limit of 0 (or less) means
// "no limit" for that bound. When queue_loaded_retry_delay is over 0, a queue
// found sick or dead is read once more after that delay and only the second
// answer counts: consumers often drain a burst a moment later.
package rabbitmq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/overvakt/overvakt/pkg/config"
	"github.com/overvakt/overvakt/pkg/probe"
	"github.com/overvakt/overvakt/pkg/status"
)

// Kind is the queue check as a probe kind: [plugins.rabbitmq] reaches the
// management API, and a node with rabbitmq_queue has its replicas judged by
// its queue too.
func Kind() probe.Kind {
	return probe.Kind{
		ProbeKind: config.ProbeKind{Name: "rabbitmq",
			Plugin: func() config.Table { return &Plugin{} },
			Node:   func() config.NodeTable { return &Node{} }},
		Prepare: func(_ *probe.Env, table config.Table) (probe.Builder, error) {
			p, _ := table.(*Plugin)
			if p == nil {
				return builder{}, nil
			}
			return builder{checker: New(p, nil)}, nil
		},
	}
}

// Plugin is [plugins.rabbitmq].
type Plugin struct {
	APIURL                 string         `toml:"api_url"`
	AuthUsername           string         `toml:"auth_username"`
	AuthPassword           string         `toml:"auth_password"`
	VirtualHost            string         `toml:"virtualhost"`
	QueueReadyHealthyBelow int            `toml:"queue_ready_healthy_below"`
	QueueNackHealthyBelow  int            `toml:"queue_nack_healthy_below"`
	QueueReadyDeadAbove    int            `toml:"queue_ready_dead_above"`
	QueueNackDeadAbove     int            `toml:"queue_nack_dead_above"`
	QueueLoadedRetryDelay  config.Seconds `toml:"queue_loaded_retry_delay"`
}

// Check implements config.Table.
func (r *Plugin) Check(c *config.Check) {
	c.RequiredURL("api_url", r.APIURL)
	c.Required("auth_username", r.AuthUsername)
	c.Required("auth_password", r.AuthPassword)
	c.Required("virtualhost", r.VirtualHost)
	c.Positive("queue_ready_healthy_below", float64(r.QueueReadyHealthyBelow))
	c.Positive("queue_nack_healthy_below", float64(r.QueueNackHealthyBelow))
	c.Positive("queue_ready_dead_above", float64(r.QueueReadyDeadAbove))
	c.Positive("queue_nack_dead_above", float64(r.QueueNackDeadAbove))
	if r.QueueReadyDeadAbove > 0 && r.QueueReadyDeadAbove < r.QueueReadyHealthyBelow {
		c.Fail("queue_ready_dead_above", "%d must not be lower than queue_ready_healthy_below (%d)",
			r.QueueReadyDeadAbove, r.QueueReadyHealthyBelow)
	}
	if r.QueueNackDeadAbove > 0 && r.QueueNackDeadAbove < r.QueueNackHealthyBelow {
		c.Fail("queue_nack_dead_above", "%d must not be lower than queue_nack_healthy_below (%d)",
			r.QueueNackDeadAbove, r.QueueNackHealthyBelow)
	}
	c.NotNegative("queue_loaded_retry_delay", float64(r.QueueLoadedRetryDelay))
}

// Node is the queue check's keys on a node.
type Node struct {
	Queue            string `toml:"rabbitmq_queue"`
	NackHealthyBelow int    `toml:"rabbitmq_queue_nack_healthy_below"` // 0: the plugin's limit
	NackDeadAbove    int    `toml:"rabbitmq_queue_nack_dead_above"`    // 0: the plugin's limit
}

// CheckNode implements config.NodeTable.
func (n *Node) CheckNode(c *config.Check, _ *config.Node) {
	if n.Queue != "" && c.Plugin("rabbitmq") == nil {
		c.Fail("rabbitmq_queue", "needs a [plugins.rabbitmq] table to reach RabbitMQ; add one or remove rabbitmq_queue")
	}
	if n.Queue == "" {
		if n.NackHealthyBelow != 0 {
			c.Fail("rabbitmq_queue_nack_healthy_below", "has no effect without rabbitmq_queue; set rabbitmq_queue or remove it")
		}
		if n.NackDeadAbove != 0 {
			c.Fail("rabbitmq_queue_nack_dead_above", "has no effect without rabbitmq_queue; set rabbitmq_queue or remove it")
		}
	}
	c.NotNegative("rabbitmq_queue_nack_healthy_below", float64(n.NackHealthyBelow))
	c.NotNegative("rabbitmq_queue_nack_dead_above", float64(n.NackDeadAbove))
}

// builder hands out the queue checks of nodes with rabbitmq_queue; it has
// no checker without [plugins.rabbitmq].
type builder struct{ checker *Checker }

func (builder) Target(*config.Node, int) (probe.Target, error) {
	return nil, errors.New("rabbitmq checks queues of nodes, not replicas")
}

func (b builder) NodeCheck(n *config.Node) probe.NodeCheck {
	t, _ := n.Tables["rabbitmq"].(*Node)
	if b.checker == nil || t == nil || t.Queue == "" {
		return nil
	}
	return &queueCheck{c: b.checker, node: *t}
}

func (builder) Close() {}

// queueCheck is the check of one node's queue.
type queueCheck struct {
	c    *Checker
	node Node
}

func (q *queueCheck) Name() string { return "queue " + q.node.Queue }

func (q *queueCheck) Check(ctx context.Context) probe.NodeResult {
	st, counts, err := q.c.CheckQueue(ctx, q.node.Queue, q.node.NackHealthyBelow, q.node.NackDeadAbove)
	if err != nil {
		return probe.NodeResult{Err: err}
	}
	return probe.NodeResult{Status: st, Queue: &counts}
}

// DefaultTimeout bounds one management API request when New gets no client.
const DefaultTimeout = 10 * time.Second

// columns asks the API for the three fields we read instead of the whole
// queue object, which carries per-consumer details and can be large.
const columns = "?columns=name,messages_ready,messages_unacknowledged"

// Answers larger than this are not a single queue object.
const maxAnswer = 1 << 20

// Checker reads queues of one virtual host of one RabbitMQ management API.
// It holds no mutable state and is safe for concurrent use.
type Checker struct {
	client     *http.Client
	queuesURL  string // {api_url}/api/queues/{vhost}/, vhost escaped
	shownURL   string // the same with any password in api_url masked
	authHeader string // "" when no credentials are configured
	limits     limits
	retryDelay time.Duration
}

// limits are the thresholds of one check; 0 means no limit for that bound.
type limits struct {
	readyHealthyBelow, nackHealthyBelow int
	readyDeadAbove, nackDeadAbove       int
}

// New builds a checker from the [plugins.rabbitmq] section, which must not be
// nil. An empty virtualhost means the default vhost "/". A nil client gets a
// plain one with DefaultTimeout.
func New(cfg *Plugin, client *http.Client) *Checker {
	if client == nil {
		client = &http.Client{Timeout: DefaultTimeout}
	}
	vhost := cfg.VirtualHost
	if vhost == "" {
		vhost = "/"
	}
	base := strings.TrimRight(cfg.APIURL, "/")
	path := "/api/queues/" + url.PathEscape(vhost) + "/"
	c := &Checker{
		client:    client,
		queuesURL: base + path,
		shownURL:  redact(base) + path,
		limits: limits{
			readyHealthyBelow: cfg.QueueReadyHealthyBelow,
			nackHealthyBelow:  cfg.QueueNackHealthyBelow,
			readyDeadAbove:    cfg.QueueReadyDeadAbove,
			nackDeadAbove:     cfg.QueueNackDeadAbove,
		},
		retryDelay: cfg.QueueLoadedRetryDelay.Duration(),
	}
	if cfg.AuthUsername != "" || cfg.AuthPassword != "" {
		// Built once: the header is the same for every request.
		req := http.Request{Header: http.Header{}}
		req.SetBasicAuth(cfg.AuthUsername, cfg.AuthPassword)
		c.authHeader = req.Header.Get("Authorization")
	}
	return c
}

// CheckQueue reads the queue and classifies it. nackHealthyBelow and
// nackDeadAbove are a node's overrides of the unacknowledged limits; 0 (or
// less) uses the plugin's. A loaded queue makes it wait queue_loaded_retry_delay
// and read again, so a call can last two requests plus that delay; ctx ends
// the wait. On error the status is Sick and the counts are zero, but callers
// should not take that as the queue's state: the prober keeps the replica's
// own status (an unreachable management API says nothing about the service
// the page shows) and puts the error, which names the URL (never the
// password), the answer and what to check, into the replica's error text.
func (c *Checker) CheckQueue(ctx context.Context, queue string, nackHealthyBelow, nackDeadAbove int) (status.Status, status.Queue, error) {
	l := c.limits
	if nackHealthyBelow > 0 {
		l.nackHealthyBelow = nackHealthyBelow
	}
	if nackDeadAbove > 0 {
		l.nackDeadAbove = nackDeadAbove
	}
	q, err := c.read(ctx, queue)
	if err != nil {
		return status.Sick, status.Queue{}, err
	}
	st := l.classify(q)
	if st == status.Healthy || c.retryDelay <= 0 {
		return st, q, nil
	}
	t := time.NewTimer(c.retryDelay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return status.Sick, status.Queue{}, fmt.Errorf("rabbitmq: queue %q at %s: stopped while waiting to re-check a loaded queue: %w",
			queue, c.shownURL+url.PathEscape(queue), ctx.Err())
	case <-t.C:
	}
	q, err = c.read(ctx, queue)
	if err != nil {
		return status.Sick, status.Queue{}, err
	}
	return l.classify(q), q, nil
}

func (l limits) classify(q status.Queue) status.Status {
	switch {
	case over(q.Ready, l.readyDeadAbove), over(q.Unacked, l.nackDeadAbove):
		return status.Dead
	case atOrOver(q.Ready, l.readyHealthyBelow), atOrOver(q.Unacked, l.nackHealthyBelow):
		return status.Sick
	}
	return status.Healthy
}

func over(n, limit int) bool     { return limit > 0 && n > limit }
func atOrOver(n, limit int) bool { return limit > 0 && n >= limit }

// queueAnswer is the part of GET /api/queues/{vhost}/{name} we read. The
// counts are pointers because a queue created a moment ago has no stats yet.
type queueAnswer struct {
	Name    *string `json:"name"`
	Ready   *int    `json:"messages_ready"`
	Unacked *int    `json:"messages_unacknowledged"`
}

func (c *Checker) read(ctx context.Context, queue string) (status.Queue, error) {
	escaped := url.PathEscape(queue)
	shown := c.shownURL + escaped
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.queuesURL+escaped+columns, nil)
	if err != nil {
		// err quotes the raw URL, which may hold a password: leave it out.
		return status.Queue{}, fmt.Errorf("rabbitmq: queue %q: cannot build a request from plugins.rabbitmq.api_url %s (want http(s)://host:port)", queue, c.shownURL)
	}
	req.Header.Set("Accept", "application/json")
	if c.authHeader != "" {
		req.Header.Set("Authorization", c.authHeader)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		// The client's url.Error masks passwords in the URL it quotes.
		return status.Queue{}, fmt.Errorf("rabbitmq: queue %q: %w (is the management plugin enabled and plugins.rabbitmq.api_url right?)", queue, err)
	}
	defer func() {
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		return status.Queue{}, fmt.Errorf("rabbitmq: queue %q at %s: %s: %s%s",
			queue, shown, resp.Status, errorBody(resp.Body), hint(resp.StatusCode))
	}
	var a queueAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(&a); err != nil {
		return status.Queue{}, fmt.Errorf("rabbitmq: queue %q at %s: the answer is not a queue object: %v (is api_url the management API, port 15672 by default?)",
			queue, shown, err)
	}
	if a.Name == nil && a.Ready == nil && a.Unacked == nil {
		return status.Queue{}, fmt.Errorf("rabbitmq: queue %q at %s: the answer has no name, messages_ready or messages_unacknowledged (is api_url the management API?)",
			queue, shown)
	}
	var q status.Queue
	if a.Ready != nil {
		q.Ready = *a.Ready
	}
	if a.Unacked != nil {
		q.Unacked = *a.Unacked
	}
	return q, nil
}

// errorBody renders the API's {"error":…,"reason":…} answer, or the start of
// whatever else came back.
func errorBody(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 4<<10))
	var e struct {
		Error  string `json:"error"`
		Reason string `json:"reason"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		if e.Reason != "" && e.Reason != e.Error {
			return e.Error + " (" + e.Reason + ")"
		}
		return e.Error
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "empty body"
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return fmt.Sprintf("%q", s)
}

func hint(code int) string {
	switch code {
	case http.StatusUnauthorized, http.StatusForbidden:
		return "; check plugins.rabbitmq.auth_username and auth_password (the user needs the monitoring tag and access to the virtual host)"
	case http.StatusNotFound:
		return "; check the node's rabbitmq_queue and plugins.rabbitmq.virtualhost"
	}
	return ""
}

// redact masks a password in api_url for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable api_url)"
	}
	return u.Redacted()
}
