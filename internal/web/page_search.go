package web

import (
	"net/http"

	"github.com/campfire-in-go/campfire/internal/chat"
)

// searchPage is the data of the search page.
type searchPage struct {
	Page
	Query   string
	Results []searchResult
	Recent  []chat.SearchQuery
	Sidebar *sidebar
}

// searchResult is a found message with the name of its room.
type searchResult struct {
	RoomName string
	Message  messageView
}

func (s *Server) handleSearchPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	me := currentUser(ctx)
	p, err := s.pageFor(ctx, me, "Search")
	if err != nil {
		return err
	}
	sb, err := s.loadSidebar(ctx, me, 0)
	if err != nil {
		return err
	}
	data := searchPage{Page: p, Query: r.URL.Query().Get("q"), Sidebar: sb}
	if data.Query != "" {
		msgs, err := s.DB.SearchMessages(ctx, me.ID, data.Query)
		if err != nil {
			return s.formError(w, err, "search", &data, &data.Page)
		}
		views, err := s.messageViews(ctx, msgs)
		if err != nil {
			return err
		}
		for _, v := range views {
			// Invisible rooms are not in the sidebar; they still have names.
			name := ""
			if room, ok := sb.find(v.RoomID); ok {
				name = room.Name
			} else if room, err := s.DB.FindRoom(ctx, me.ID, v.RoomID); err == nil {
				name = room.Name
			}
			data.Results = append(data.Results, searchResult{RoomName: name, Message: v})
		}
	}
	if data.Recent, err = s.DB.RecentSearches(ctx, me.ID); err != nil {
		return err
	}
	return s.renderPage(w, http.StatusOK, "search", data)
}

func (s *Server) handleSearchClearForm(w http.ResponseWriter, r *http.Request) error {
	if err := s.DB.ClearSearches(r.Context(), currentUser(r.Context()).ID); err != nil {
		return err
	}
	return seeOther(w, r, "/search")
}
