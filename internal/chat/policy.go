package chat

import (
	"slices"
	"strconv"
)

// Permission rules. They are pure: callers load the facts (the actor, the
// room, whether the actor is a member) and ask.

// CanAdminister reports whether actor may manage something created by creatorID.
func CanAdminister(actor *User, creatorID int64) bool {
	return actor.IsActive() && (actor.IsAdmin() || actor.ID == creatorID)
}

// CanCreateRoom reports whether actor may create an open or closed room.
func CanCreateRoom(actor *User, acct *Account) error {
	if !actor.IsActive() {
		return Errorf(EFORBIDDEN, "Your account is not active.")
	}
	if actor.Role == RoleBot {
		return Errorf(EFORBIDDEN, "Bots cannot create rooms.")
	}
	if acct != nil && acct.RestrictRoomCreation && !actor.IsAdmin() {
		return Errorf(EFORBIDDEN, "Only administrators can create rooms.")
	}
	return nil
}

// CanUpdateRoom reports whether actor may rename or convert room.
func CanUpdateRoom(actor *User, room *Room) error {
	if room.Type == RoomDirect {
		return Errorf(EFORBIDDEN, "Direct rooms cannot be renamed or converted.")
	}
	if !CanAdminister(actor, room.CreatorID) {
		return Errorf(EFORBIDDEN, "Only the room's creator or an administrator can change it.")
	}
	return nil
}

// CanDeleteRoom reports whether actor, a member of room, may delete it:
// any member deletes a direct room; the creator or an administrator others.
func CanDeleteRoom(actor *User, room *Room, isMember bool) error {
	if !isMember && !actor.IsAdmin() {
		return Errorf(ENOTFOUND, "Room not found.")
	}
	if room.Type == RoomDirect {
		if !isMember {
			return Errorf(ENOTFOUND, "Room not found.")
		}
		return nil
	}
	if !CanAdminister(actor, room.CreatorID) {
		return Errorf(EFORBIDDEN, "Only the room's creator or an administrator can delete it.")
	}
	return nil
}

// CanRead reports whether actor may read a room. Non-members get "not
// found" so the existence of closed and direct rooms does not leak.
func CanRead(actor *User, isMember bool) error {
	if !actor.IsActive() || !isMember {
		return Errorf(ENOTFOUND, "Room not found.")
	}
	return nil
}

// CanPost reports whether actor may post in a room.
func CanPost(actor *User, isMember bool) error { return CanRead(actor, isMember) }

// CanEditMessage reports whether actor may edit or delete msg.
func CanEditMessage(actor *User, msg *Message) error {
	if !CanAdminister(actor, msg.CreatorID) {
		return Errorf(EFORBIDDEN, "Only the author or an administrator can change this message.")
	}
	return nil
}

// CanDeleteBoost reports whether actor may remove boost.
func CanDeleteBoost(actor *User, boost *Boost) error {
	if !actor.IsActive() || boost.BoosterID != actor.ID {
		return Errorf(EFORBIDDEN, "Only the booster can remove a boost.")
	}
	return nil
}

// CanManageUsers reports whether actor may change roles, deactivate users and
// regenerate the join link.
func CanManageUsers(actor *User) error {
	if !actor.IsActive() || !actor.IsAdmin() {
		return Errorf(EFORBIDDEN, "Only administrators can do that.")
	}
	return nil
}

// CanChangeRole reports whether actor may give target the role.
func CanChangeRole(actor, target *User, role Role) error {
	if err := CanManageUsers(actor); err != nil {
		return err
	}
	if role != RoleMember && role != RoleAdministrator {
		return Errorf(EINVALID, "Role must be \"member\" or \"administrator\".")
	}
	if target.Role == RoleBot {
		return Errorf(EINVALID, "A bot's role cannot be changed.")
	}
	if actor.ID == target.ID {
		return Errorf(EFORBIDDEN, "You cannot change your own role.")
	}
	return nil
}

// CanDeactivate reports whether actor may deactivate target.
func CanDeactivate(actor, target *User) error {
	if err := CanManageUsers(actor); err != nil {
		return err
	}
	if actor.ID == target.ID {
		return Errorf(EFORBIDDEN, "You cannot deactivate yourself.")
	}
	return nil
}

func sortInt64s(s []int64) { slices.Sort(s) }

func itoa(i int64) string { return strconv.FormatInt(i, 10) }
