package tracedtask

import (
	"fmt"
	"strconv"
	"strings"
)

// fargateSize is one task CPU value Fargate takes (in CPU units, 1024 to a
// vCPU) and the memory it allows with it: the values in list, or min..max MiB
// in steps of step.
type fargateSize struct {
	cpu            int
	list           []int
	min, max, step int
}

// fargateSizes is the table in the Amazon ECS Developer Guide, "Task size".
var fargateSizes = []fargateSize{
	{cpu: 256, list: []int{512, 1024, 2048}},
	{cpu: 512, min: 1024, max: 4096, step: 1024},
	{cpu: 1024, min: 2048, max: 8192, step: 1024},
	{cpu: 2048, min: 4096, max: 16384, step: 1024},
	{cpu: 4096, min: 8192, max: 30720, step: 1024},
	{cpu: 8192, min: 16384, max: 61440, step: 4096},
	{cpu: 16384, min: 32768, max: 122880, step: 8192},
}

func (s fargateSize) allows(memoryMiB int) bool {
	for _, m := range s.list {
		if m == memoryMiB {
			return true
		}
	}
	return s.step > 0 && memoryMiB >= s.min && memoryMiB <= s.max && (memoryMiB-s.min)%s.step == 0
}

func (s fargateSize) String() string {
	if s.list != nil {
		parts := make([]string, len(s.list))
		for i, m := range s.list {
			parts[i] = strconv.Itoa(m)
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprintf("%d..%d in steps of %d", s.min, s.max, s.step)
}

// ValidateTaskSize reports whether Fargate runs a task with cpu CPU units and
// memoryMiB MiB, and if not, which values it would take.
func ValidateTaskSize(cpu, memoryMiB int) error {
	cpus := make([]string, len(fargateSizes))
	for i, s := range fargateSizes {
		if s.cpu == cpu {
			if s.allows(memoryMiB) {
				return nil
			}
			return fmt.Errorf("%d MiB is not a Fargate memory size for %d CPU units; expected %s", memoryMiB, cpu, s)
		}
		cpus[i] = strconv.Itoa(s.cpu)
	}
	return fmt.Errorf("%d CPU units is not a Fargate task size; expected one of %s", cpu, strings.Join(cpus, ", "))
}
