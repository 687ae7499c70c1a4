package main

import (
	"fmt"
	"strconv"
	"strings"
)

// parseSize reads a size in bytes as options take it: a number, maybe
// followed by K, M or G (KiB, MiB, GiB: powers of 1024, as dd reads them;
// "KiB" and lower case are accepted too).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}} {
		if strings.HasSuffix(strings.ToLower(t), u.suffix) {
			t, mult = t[:len(t)-len(u.suffix)], u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size: want a number of bytes, maybe with K, M or G (KiB, MiB, GiB)", s)
	}
	return n * mult, nil
}
