package backup

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/campfire-in-go/campfire/internal/remote"
)

// PlanRemotePrune applies policy to the backups in st at now, as PlanPrune
// does to a directory, with what only a remote has: an artifact whose size
// or SHA-256 differs from its manifest is kept for a person to look at, and
// an artifact without a manifest is left alone for a day (its upload may be
// under way), then listed in Stale and deleted.
func PlanRemotePrune(ctx context.Context, st *remote.Store, policy Policy, now time.Time) (*PrunePlan, error) {
	entries, objs, err := listRemote(ctx, st)
	if err != nil {
		return nil, err
	}
	var planned, recent []Entry
	var stale []string
	for _, e := range entries {
		switch {
		case e.Status == StatusIncomplete && e.Manifest == nil:
			if now.Sub(objs[e.Name].modTime) > staleAge {
				stale = append(stale, e.Name)
			} else {
				recent = append(recent, e)
			}
		case e.Status == StatusIncomplete:
			d := e
			d.Status = StatusDamaged // kept, never used
			planned = append(planned, d)
		default:
			planned = append(planned, e)
		}
	}
	plan, err := PlanPrune(planned, policy, now)
	if err != nil {
		return nil, err
	}
	for _, e := range recent {
		plan.Decisions = append(plan.Decisions, Decision{Entry: e, Keep: true,
			Reasons: []string{"incomplete, no manifest, uploaded less than a day ago: its upload may be under way"}})
	}
	for i := range plan.Decisions {
		if e := &plan.Decisions[i].Entry; e.Status == StatusDamaged && e.Manifest != nil {
			for _, o := range entries {
				if o.Name == e.Name {
					*e = o // show it as it is: incomplete
				}
			}
		}
	}
	sortDecisions(plan.Decisions)
	sort.Strings(stale)
	plan.Stale = stale
	plan.Dir = st.String()
	return plan, nil
}

// Deleter deletes objects: a *remote.Store.
type Deleter interface {
	Delete(ctx context.Context, key string) error
}

func sortDecisions(ds []Decision) {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i].Entry, ds[j].Entry
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.After(b.CreatedAt)
		}
		return a.Name > b.Name
	})
}

// ApplyRemote deletes what plan (from PlanRemotePrune) deletes from st:
// for each backup its manifest first, then the artifact and its .sql text,
// so a delete cut short leaves an incomplete backup, never one that looks
// whole; then the stale artifacts. It goes on after an error and returns
// all of them.
func ApplyRemote(ctx context.Context, st Deleter, plan *PrunePlan) error {
	var errs []error
	for _, d := range plan.Deleted() {
		if !d.Entry.Ours {
			continue // never, whatever the plan says
		}
		base := baseName(d.Entry.Name)
		if err := st.Delete(ctx, base+ManifestSuffix); err != nil {
			errs = append(errs, err)
			continue // the artifact stays whole with its manifest
		}
		for _, key := range []string{d.Entry.Name, base + SchemaSuffix} {
			if err := st.Delete(ctx, key); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, key := range plan.Stale {
		for _, k := range []string{key, baseName(key) + SchemaSuffix} {
			if err := st.Delete(ctx, k); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
