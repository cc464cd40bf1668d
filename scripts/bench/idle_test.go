package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestWithInet(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{"sample line", "[server]\nlog_level = \"error\"\ninet = \"[::1]:8080\"\n", "inet = \"127.0.0.1:4242\"", false},
		{"self probe follows", "[server]\ninet = \"[::1]:8080\"\n[[probe.service.node]]\nreplicas = [\"http://[::1]:8080/health\"]\n", "\"http://127.0.0.1:4242/health\"", false},
		{"indented", "[server]\n  inet=\"0.0.0.0:80\"\n", "  inet=\"127.0.0.1:4242\"", false},
		{"missing", "[server]\nlog_level = \"error\"\n", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := withInet([]byte(tt.in), "127.0.0.1:4242")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && !strings.Contains(string(got), tt.want) {
				t.Fatalf("got %q, want it to contain %q", got, tt.want)
			}
		})
	}
}

func TestNonLoopbackTargets(t *testing.T) {
	text := "# icon_url = \"https://example.com/icon.png\"\n" + `replicas = ["http://127.0.0.1:8080/health", "tcp://[::1]:22", "https://example.com/", "icmp://10.0.0.3", "tcp://localhost:5432"]`
	got := nonLoopbackTargets([]byte(text))
	want := []string{"example.com", "10.0.0.3"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
