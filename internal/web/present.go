package web

import (
	"github.com/campfire-in-go/campfire/internal/chat"
)

// Presenters decide what a viewer may see of a record: email addresses
// only to administrators and to their owner.

func presentUser(viewer, u *chat.User) *chat.User {
	if u == nil {
		return nil
	}
	c := *u
	if viewer == nil || (!viewer.IsAdmin() && viewer.ID != u.ID) {
		c.Email = ""
	}
	return &c
}

func presentUsers(viewer *chat.User, us []*chat.User) []*chat.User {
	out := make([]*chat.User, len(us))
	for i, u := range us {
		out[i] = presentUser(viewer, u)
	}
	return out
}

func presentMessage(viewer *chat.User, m *chat.Message) *chat.Message {
	c := *m
	c.Creator = presentUser(viewer, m.Creator)
	return &c
}

func presentMessages(viewer *chat.User, ms []*chat.Message) []*chat.Message {
	out := make([]*chat.Message, len(ms))
	for i, m := range ms {
		out[i] = presentMessage(viewer, m)
	}
	return out
}
