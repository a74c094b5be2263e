package chat

import (
	"slices"
	"strings"
	"testing"
)

func TestSounds(t *testing.T) {
	all := Sounds()
	if len(all) != 56 {
		t.Fatalf("len(Sounds()) = %d, want 56", len(all))
	}
	if !slices.IsSortedFunc(all, func(a, b Sound) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("Sounds() is not sorted by name")
	}
	seen := map[string]bool{}
	for _, s := range all {
		if seen[s.Name] {
			t.Errorf("duplicate sound %q", s.Name)
		}
		seen[s.Name] = true
		if (s.Text == "") == (s.Image == "") {
			t.Errorf("sound %q: want exactly one of Text and Image, got %q and %q", s.Name, s.Text, s.Image)
		}
		if got, ok := SoundByName(s.Name); !ok || got != s {
			t.Errorf("SoundByName(%q) = %+v, %v", s.Name, got, ok)
		}
	}

	// Callers must not be able to change the table.
	all[0].Name = "changed"
	if Sounds()[0].Name == "changed" {
		t.Error("Sounds() returned the shared table")
	}
}

func TestSoundByName(t *testing.T) {
	tests := []struct {
		name string
		want Sound
		ok   bool
	}{
		{"56k", Sound{Name: "56k", Image: "56k.webp"}, true},
		{"deeper", Sound{Name: "deeper", Image: "top.webp"}, true},
		{"bell", Sound{Name: "bell", Text: "🔔"}, true},
		{"ballmer", Sound{Name: "ballmer", Text: "developers!"}, true},
		{"yodel", Sound{Name: "yodel", Text: "📣🗻🙉"}, true},
		{"Tada", Sound{}, false},
		{"", Sound{}, false},
		{"nope", Sound{}, false},
	}
	for _, tt := range tests {
		got, ok := SoundByName(tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("SoundByName(%q) = %+v, %v; want %+v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParsePlay(t *testing.T) {
	tests := []struct {
		plain string
		want  string // sound name, "" for none
	}{
		{"/play tada", "tada"},
		{"  /play tada  ", "tada"},
		{"/play 56k", "56k"},
		{"/play nope", ""},
		{"/play tada now", ""},
		{"please /play tada", ""},
		{"/play", ""},
		{"/play ", ""},
		{"/playtada", ""},
		{"/PLAY tada", ""},
		{"/play TADA", ""},
		{"", ""},
	}
	for _, tt := range tests {
		s, ok := ParsePlay(tt.plain)
		if ok != (tt.want != "") || s.Name != tt.want {
			t.Errorf("ParsePlay(%q) = %q, %v; want %q", tt.plain, s.Name, ok, tt.want)
		}
	}
}
