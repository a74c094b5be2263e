package main

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestCampfireBody(t *testing.T) {
	tgt := &campfireTarget{}
	for _, c := range []struct {
		frame string
		want  string
		ok    bool
	}{
		{`{"type":"message_created","room_id":1,"message":{"id":1,"creator":{"bio":""},"body":"fanout abc 1 2","html":"<p>x</p>"},"html":"..."}`, "fanout abc 1 2", true},
		// An escaped body takes the decoder.
		{`{"type":"message_created","message":{"body":"say \"hi\""}}`, `say "hi"`, true},
		{`{"type":"message_updated","message":{"body":"fanout abc 1 2"}}`, "", false},
		{`{"type":"presence","room_id":1,"user_ids":[1]}`, "", false},
	} {
		got, ok := tgt.body([]byte(c.frame))
		if string(got) != c.want || ok != c.ok {
			t.Errorf("body(%s) = %q, %v; want %q, %v", c.frame, got, ok, c.want, c.ok)
		}
	}
}

func TestParse(t *testing.T) {
	r := &rateRun{marker: []byte("fanout n0nce "), counts: make([]atomic.Int32, 10)}
	for _, c := range []struct {
		body string
		i    int
		sent time.Duration
		ok   bool
	}{
		{"fanout n0nce 3 12345", 3, 12345, true},
		{"fanout n0nce 3 12345 xxxxxxxx", 3, 12345, true},
		{"fanout other 3 12345", 0, 0, false},
		{"fanout n0nce 10 1", 0, 0, false}, // beyond the schedule
		{"fanout n0nce 3", 0, 0, false},
		{"fanout n0nce -3 1", 0, 0, false},
		{"fanout n0nce 3 1x", 0, 0, false},
	} {
		i, sent, ok := r.parse([]byte(c.body))
		if i != c.i || sent != c.sent || ok != c.ok {
			t.Errorf("parse(%q) = %d, %d, %v; want %d, %d, %v", c.body, i, sent, ok, c.i, c.sent, c.ok)
		}
	}
}
