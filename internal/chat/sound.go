package chat

import (
	"slices"
	"strings"
)

// Sound is a named sound a message can play with "/play <name>".
type Sound struct {
	Name  string // e.g. "56k"
	Text  string // the text shown, e.g. "developers!" ("" for image sounds)
	Image string // image file name for image sounds, e.g. "56k.webp" ("top.webp" for deeper), "" otherwise
}

// sounds is sorted by name so lookups can binary search; never modify it.
var sounds = []Sound{
	{Name: "56k", Image: "56k.webp"},
	{Name: "ballmer", Text: "developers!"},
	{Name: "bell", Text: "🔔"},
	{Name: "bezos", Text: "😆💭"},
	{Name: "bueller", Text: "anyone?"},
	{Name: "butts", Text: "👐 🚬"},
	{Name: "clowntown", Image: "clowntown.webp"},
	{Name: "cottoneyejoe", Text: "🎶🙉🎶"},
	{Name: "crickets", Text: "hears crickets chirping"},
	{Name: "curb", Image: "curb.webp"},
	{Name: "dadgummit", Text: "dad gummit!! 🎣"},
	{Name: "dangerzone", Image: "dangerzone.webp"},
	{Name: "danielsan", Text: "🎆 🏆 🎆"},
	{Name: "deeper", Image: "top.webp"},
	{Name: "donotwant", Image: "donotwant.webp"},
	{Name: "drama", Image: "drama.webp"},
	{Name: "flawless", Text: "#flawless"},
	{Name: "glados", Text: "🤖💢"},
	{Name: "gogogo", Text: "Go, go, go!"},
	{Name: "greatjob", Image: "greatjob.webp"},
	{Name: "greyjoy", Text: "😖🎺"},
	{Name: "guarantee", Text: "guarantees it 👌"},
	{Name: "heygirl", Text: "✨💁✨"},
	{Name: "honk", Text: "HONK"},
	{Name: "horn", Text: "🐶 ✂️ 🐱"},
	{Name: "horror", Text: "💀💀💀💀💀💀💀"},
	{Name: "inconceivable", Text: "doesn't think it means what you think it means…"},
	{Name: "letitgo", Text: "❄️👩❄️⛄️❄️"},
	{Name: "live", Text: "is DOING IT LIVE"},
	{Name: "loggins", Image: "loggins.webp"},
	{Name: "makeitso", Text: "make it so 👉"},
	{Name: "noooo", Text: "👸💀😒"},
	{Name: "nyan", Image: "nyan.webp"},
	{Name: "ohmy", Text: "raises an eyebrow 😏"},
	{Name: "ohyeah", Text: "isn't playing by the rules"},
	{Name: "pushit", Image: "pushit.webp"},
	{Name: "rimshot", Text: "plays a rimshot"},
	{Name: "rollout", Text: "is rolling out 🚗"},
	{Name: "rumble", Image: "rumble.webp"},
	{Name: "sax", Text: "🌇🎷🎶"},
	{Name: "secret", Text: "found a secret area 🔑"},
	{Name: "sexyback", Text: "🔞"},
	{Name: "story", Text: "and now you know…"},
	{Name: "tada", Text: "plays a fanfare 🎏"},
	{Name: "tmyk", Text: "✨ ⭐️ The More You Know ✨ ⭐️"},
	{Name: "totes", Text: "😁👍"},
	{Name: "trololo", Text: "трололо"},
	{Name: "trombone", Text: "plays a sad trombone"},
	{Name: "unix", Text: "knows this 💻"},
	{Name: "vuvuzela", Text: "======<() ~ ♪ ~♫"},
	{Name: "what", Image: "what.webp"},
	{Name: "whoomp", Text: "👏‼️😎"},
	{Name: "wups", Text: "wups!"},
	{Name: "yay", Image: "yay.webp"},
	{Name: "yeah", Image: "yeah.webp"},
	{Name: "yodel", Text: "📣🗻🙉"},
}

// SoundByName looks a sound up by its exact, case-sensitive name.
func SoundByName(name string) (Sound, bool) {
	i, ok := slices.BinarySearchFunc(sounds, name, func(s Sound, name string) int {
		return strings.Compare(s.Name, name)
	})
	if !ok {
		return Sound{}, false
	}
	return sounds[i], true
}

// Sounds returns all sounds sorted by name. The slice is a copy.
func Sounds() []Sound {
	return slices.Clone(sounds)
}

// ParsePlay reports the sound a message plays: the whole plain text,
// trimmed, must be "/play <known name>". Anything else, including an
// unknown name, is an ordinary text message.
func ParsePlay(plain string) (Sound, bool) {
	name, ok := strings.CutPrefix(strings.TrimSpace(plain), "/play ")
	if !ok {
		return Sound{}, false
	}
	return SoundByName(strings.TrimSpace(name))
}
