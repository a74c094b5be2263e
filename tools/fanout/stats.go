package main

import (
	"reflect"
	"slices"
	"strings"
)

// median returns a result whose every number is the median of that number
// across rs (figures taken one by one, so the "median run" may not exist),
// and whose text comes from the first run.
func median(rs []*result) *result {
	if len(rs) == 1 {
		return rs[0]
	}
	m := *rs[0]
	out := reflect.ValueOf(&m).Elem()
	for i := range out.NumField() {
		f := out.Field(i)
		var num func(r *result) float64
		switch f.Kind() {
		case reflect.Int, reflect.Int64:
			num = func(r *result) float64 { return float64(reflect.ValueOf(r).Elem().Field(i).Int()) }
		case reflect.Float64:
			num = func(r *result) float64 { return reflect.ValueOf(r).Elem().Field(i).Float() }
		default:
			continue
		}
		vals := make([]float64, len(rs))
		for j, r := range rs {
			vals[j] = num(r)
		}
		slices.Sort(vals)
		mid := vals[len(vals)/2]
		if len(vals)%2 == 0 {
			mid = (vals[len(vals)/2-1] + mid) / 2
		}
		if f.Kind() == reflect.Float64 {
			f.SetFloat(mid)
		} else {
			f.SetInt(int64(mid))
		}
	}
	return &m
}

// ratios divides each nonzero number of b into a's, keyed by JSON name.
func ratios(a, b *result) map[string]float64 {
	out := map[string]float64{}
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := range va.NumField() {
		name, _, _ := strings.Cut(va.Type().Field(i).Tag.Get("json"), ",")
		var x, y float64
		switch va.Field(i).Kind() {
		case reflect.Int, reflect.Int64:
			x, y = float64(va.Field(i).Int()), float64(vb.Field(i).Int())
		case reflect.Float64:
			x, y = va.Field(i).Float(), vb.Field(i).Float()
		default:
			continue
		}
		if y != 0 && name != "" {
			out[name] = x / y
		}
	}
	return out
}
