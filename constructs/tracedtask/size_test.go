package tracedtask

import "testing"

func TestValidateTaskSize(t *testing.T) {
	ok := [][2]int{
		{256, 512}, {256, 1024}, {256, 2048},
		{512, 1024}, {512, 4096},
		{1024, 2048}, {1024, 8192},
		{2048, 4096}, {2048, 16384},
		{4096, 8192}, {4096, 30720},
		{8192, 16384}, {8192, 61440}, {8192, 20480},
		{16384, 32768}, {16384, 122880}, {16384, 40960},
	}
	for _, s := range ok {
		if err := ValidateTaskSize(s[0], s[1]); err != nil {
			t.Errorf("%d/%d: %v", s[0], s[1], err)
		}
	}
	bad := []struct {
		cpu, mem int
		want     string
	}{
		{256, 256, "256 MiB is not a Fargate memory size for 256 CPU units; expected 512, 1024, 2048"},
		{256, 3072, "3072 MiB is not a Fargate memory size for 256 CPU units; expected 512, 1024, 2048"},
		{512, 512, "512 MiB is not a Fargate memory size for 512 CPU units; expected 1024..4096 in steps of 1024"},
		{512, 5120, "5120 MiB is not a Fargate memory size for 512 CPU units; expected 1024..4096 in steps of 1024"},
		{1024, 2500, "2500 MiB is not a Fargate memory size for 1024 CPU units; expected 2048..8192 in steps of 1024"},
		{4096, 31744, "31744 MiB is not a Fargate memory size for 4096 CPU units; expected 8192..30720 in steps of 1024"},
		{8192, 17408, "17408 MiB is not a Fargate memory size for 8192 CPU units; expected 16384..61440 in steps of 4096"},
		{16384, 131072, "131072 MiB is not a Fargate memory size for 16384 CPU units; expected 32768..122880 in steps of 8192"},
		{128, 512, "128 CPU units is not a Fargate task size; expected one of 256, 512, 1024, 2048, 4096, 8192, 16384"},
	}
	for _, tc := range bad {
		err := ValidateTaskSize(tc.cpu, tc.mem)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%d/%d: got %v, want %q", tc.cpu, tc.mem, err, tc.want)
		}
	}
}

func TestRetentionFromDays(t *testing.T) {
	if r, err := RetentionFromDays(30); err != nil || r != "ONE_MONTH" {
		t.Errorf("30 days: %v %v", r, err)
	}
	if r, err := RetentionFromDays(3653); err != nil || r != "TEN_YEARS" {
		t.Errorf("3653 days: %v %v", r, err)
	}
	for _, d := range []int{0, 2, 31, 3654} {
		if _, err := RetentionFromDays(d); err == nil {
			t.Errorf("%d days: no error", d)
		}
	}
}

func TestDaemonBuffer(t *testing.T) {
	for reservation, want := range map[int]int{256: 64, 128: 32, 8: 3, 12: 3, 16: 4} {
		if got := daemonBufferMiB(reservation); got != want {
			t.Errorf("daemonBufferMiB(%d) = %d, want %d", reservation, got, want)
		}
	}
}
