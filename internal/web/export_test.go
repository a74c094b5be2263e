package web

import (
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/campfire-in-go/campfire/internal/chat"
	"github.com/campfire-in-go/campfire/internal/sqldb"
)

// RenderSamples renders every page template with sample data, in the
// branches that matter (admin and member, empty and full), and every
// partial. A page without a sample is an error, so a new template cannot
// be forgotten here.
func RenderSamples(s *Server, now time.Time) error {
	admin := &chat.User{ID: 1, Name: "Ada <Admin>", Email: "ada@example.com", Role: chat.RoleAdministrator, Status: chat.StatusActive, Bio: "Hi & bye"}
	member := &chat.User{ID: 2, Name: "Bob", Role: chat.RoleMember, Status: chat.StatusActive}
	gone := &chat.User{ID: 3, Name: "Gone", Role: chat.RoleMember, Status: chat.StatusDeactivated}
	page := Page{Title: "Title", Me: admin, Account: "Campfire", Notice: "Saved.", Error: "Something <failed>."}
	memberPage := Page{Title: "Title", Me: member, Account: "Campfire"}
	anon := Page{Title: "Title", Account: "Campfire", Error: "Wrong."}
	sb := &sidebar{
		Account: "Campfire",
		Rooms: []roomView{
			{ID: 1, Name: "All Talk", Type: chat.RoomOpen, Current: true, Involvement: chat.InvolvedMentions},
			{ID: 2, Name: "Secret", Type: chat.RoomClosed, Unread: true, Involvement: chat.InvolvedEverything},
		},
		Directs:        []roomView{{ID: 3, Name: "Bob", Type: chat.RoomDirect}},
		CurrentID:      1,
		CanCreateRooms: true,
	}
	emptySidebar := &sidebar{Account: "Campfire"}
	msg := &chat.Message{
		ID: 7, RoomID: 1, CreatorID: 1, Creator: admin, ClientID: "c-7", Body: "**hi** @Bob",
		HTML: `<p><strong>hi</strong> <a class="mention" href="/users/2" data-user-id="2">@Bob</a></p>`, Plain: "hi @Bob",
		MentionIDs: []int64{2}, Boosts: []*chat.Boost{{ID: 9, MessageID: 7, BoosterID: 2, Content: "👍", CreatedAt: now}},
		CreatedAt: now, UpdatedAt: now,
	}
	sound := &chat.Message{ID: 8, RoomID: 1, CreatorID: 2, Creator: member, Body: "/play tada", Sound: "tada", MentionIDs: []int64{}, CreatedAt: now, UpdatedAt: now}
	noCreator := &chat.Message{ID: 10, RoomID: 1, CreatorID: 4, Body: "x", HTML: "<p>x</p>", CreatedAt: now, UpdatedAt: now}
	names := map[int64]string{2: "Bob"}
	views := []messageView{newMessageView(msg, names), newMessageView(sound, names), newMessageView(noCreator, names)}
	room := &roomView{ID: 1, Name: "All Talk", Type: chat.RoomOpen, Current: true, Involvement: chat.InvolvedMentions}
	direct := &roomView{ID: 3, Name: "Bob", Type: chat.RoomDirect, Current: true, Involvement: chat.InvolvedEverything}
	choices := []userChoice{{User: admin, Checked: true, Locked: true}, {User: member, Checked: true}, {User: gone}}
	closed := &chat.Room{ID: 2, Name: "Secret", Type: chat.RoomClosed, CreatorID: 1, Membership: &chat.Membership{Involvement: chat.InvolvedMentions}}
	dm := &chat.Room{ID: 3, Type: chat.RoomDirect, CreatorID: 2}

	samples := map[string][]any{
		"first_run":   {credentialsPage{Page: anon, Name: "Ada", Email: "a@example.com"}},
		"session_new": {credentialsPage{Page: anon, Email: "a@example.com", ReturnTo: "/rooms/1"}},
		"join":        {credentialsPage{Page: anon, JoinCode: "AAAA-BBBB-CCCC"}},
		"error":       {errorPage{Page: anon, Status: 404, Message: "Not found."}, errorPage{Page: page, Status: 403, Message: "No."}},
		"room": {
			roomPage{Page: page, Sidebar: sb, Room: room, Messages: views, HighlightID: 7, HasOlder: true, HasNewer: true, CanManage: true},
			roomPage{Page: memberPage, Sidebar: sb, Room: direct},
			roomPage{Page: memberPage, Sidebar: emptySidebar},
		},
		"room_new": {roomFormPage{Page: page, Name: "New room", Type: chat.RoomClosed, Users: choices, Sidebar: sb}},
		"room_settings": {
			roomSettingsPage{Page: page, Room: closed, Name: "Secret", Members: []*chat.User{admin, member}, Users: choices,
				Involvement: chat.InvolvedMentions, CanManage: true, CanDelete: true, Sidebar: sb},
			roomSettingsPage{Page: memberPage, Room: dm, Name: "Ada", Members: []*chat.User{admin, member}, Involvement: chat.InvolvedEverything, CanDelete: true, Sidebar: sb},
		},
		"direct_new": {directFormPage{Page: page, Users: choices[1:], Sidebar: sb}, directFormPage{Page: page, Sidebar: sb}},
		"search": {
			searchPage{Page: page, Query: "hi <b>", Results: []searchResult{{RoomName: "All Talk", Message: views[0]}},
				Recent: []chat.SearchQuery{{Query: "hi <b>", UpdatedAt: now}}, Sidebar: sb},
			searchPage{Page: page, Sidebar: sb},
		},
		"profile": {profilePage{Page: page, Name: "Ada", Email: "a@example.com", Bio: "Hi", Sidebar: sb}},
		"account": {
			accountPage{Page: page, Settings: &chat.Account{Name: "Campfire", JoinCode: "AAAA-BBBB-CCCC", RestrictRoomCreation: true},
				JoinURL: "http://x/join/AAAA-BBBB-CCCC", Users: []*chat.User{admin, member, gone}, IsAdmin: true, Sidebar: sb},
			accountPage{Page: memberPage, Settings: &chat.Account{Name: "Campfire"}, JoinURL: "http://x/join/A", Users: []*chat.User{admin, member}, Sidebar: sb},
		},
		"user": {userPage{Page: page, User: member, Sidebar: sb}, userPage{Page: page, User: gone, Sidebar: sb}, userPage{Page: page, User: admin, Sidebar: sb}},
		"backups": {
			backupsPage{Page: page, Sidebar: sb, Configured: true, Dir: "/srv/backups <x>",
				Backups: []backupRow{
					{Name: "campfire_full_h_backup_20260101_020000.db.zst", Type: "full", CreatedAt: now, Size: "1.2 MiB", Status: "verified"},
					{Name: "odd <name>.db", Type: "", Size: "12 B", Encrypted: "age", Status: "damaged", Problem: "size 12 differs"},
				},
				Events: []*sqldb.BackupEvent{
					{ID: 1, Action: "backup", Type: "full", File: "campfire_full_h_backup_20260101_020000.db.zst", Status: "success", Detail: "zstd <ok>", Actor: "web:user 1", FinishedAt: now},
					{ID: 2, Action: "prune", Status: "failure", Detail: "busy", Actor: "cli:root@h", FinishedAt: now},
				}},
			backupsPage{Page: page, Sidebar: sb, ListError: "cannot list"},
		},
	}
	for name := range s.templates.pages {
		if len(samples[name]) == 0 {
			return fmt.Errorf("page template %q has no sample in export_test.go", name)
		}
	}
	for name, datas := range samples {
		if _, ok := s.templates.pages[name]; !ok {
			return fmt.Errorf("sample for missing page template %q", name)
		}
		for i, data := range datas {
			if err := s.renderPage(httptest.NewRecorder(), 200, name, data); err != nil {
				return fmt.Errorf("sample %d: %w", i, err)
			}
		}
	}
	for _, f := range []struct {
		name string
		data any
	}{
		{"message", views[0]}, {"message", views[1]}, {"message", views[2]},
		{"boost", views[0].Boosts[0]},
		{"sidebar", sb}, {"sidebar", emptySidebar},
	} {
		if _, err := s.renderFragment(f.name, f.data); err != nil {
			return err
		}
	}
	return nil
}
