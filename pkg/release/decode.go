package release

// decodeRelease builds the model from a tree the schema accepted. It reads
// the tree directly (not through encoding/json) because that halves the
// allocations of a Parse; the fuzz target checks it against encoding/json.
func decodeRelease(m map[string]any) *Release {
	r := &Release{
		ProjectName:  str(m["project_name"]),
		ConfigName:   str(m["config_name"]),
		Target:       str(m["target"]),
		AWSAccountID: str(m["aws_account_id"]),
		AWSRegion:    str(m["aws_region"]),
		Timeout:      integer(m["timeout"]),
		Metadata:     strMap(m["metadata"]),
		Image:        str(m["image"]),
		Subnets:      strs(m["subnets"]),
		UserData:     str(m["user_data"]),
	}
	if hooks, ok := m["lifecycle"].(map[string]any); ok {
		r.Lifecycle = make(map[string]*LifecycleHook, len(hooks))
		for name, v := range hooks {
			h, _ := v.(map[string]any)
			r.Lifecycle[name] = &LifecycleHook{
				Transition:       str(h["transition"]),
				Role:             str(h["role"]),
				SNS:              str(h["sns"]),
				HeartbeatTimeout: integer(h["heartbeat_timeout"]),
			}
		}
	}
	services, _ := m["services"].(map[string]any)
	r.Services = make(map[string]*Service, len(services))
	for name, v := range services {
		s, _ := v.(map[string]any)
		r.Services[name] = decodeService(s)
	}
	r.applyDefaults()
	return r
}

func decodeService(m map[string]any) *Service {
	s := &Service{
		Command:                  strs(m["command"]),
		WorkingDir:               str(m["working_dir"]),
		Env:                      strMap(m["env"]),
		Instances:                integer(m["instances"]),
		Listen:                   integer(m["listen"]),
		InstanceType:             str(m["instance_type"]),
		SecurityGroups:           strs(m["security_groups"]),
		TargetGroups:             strs(m["target_groups"]),
		ELBs:                     strs(m["elbs"]),
		Profile:                  str(m["profile"]),
		Tags:                     strMap(m["tags"]),
		AssociatePublicIPAddress: m["associate_public_ip_address"] == true,
	}
	if h, ok := m["health_check"].(map[string]any); ok {
		s.HealthCheck = &HealthCheck{
			Type:               str(h["type"]),
			Path:               str(h["path"]),
			ExpectedStatus:     integer(h["expected_status"]),
			Interval:           integer(h["interval"]),
			Timeout:            integer(h["timeout"]),
			HealthyThreshold:   integer(h["healthy_threshold"]),
			UnhealthyThreshold: integer(h["unhealthy_threshold"]),
		}
		if _, set := h["grace_period"]; set {
			g := integer(h["grace_period"])
			s.HealthCheck.GracePeriod = &g
		}
	}
	if a, ok := m["autoscaling"].(map[string]any); ok {
		s.Autoscaling = &Autoscaling{
			MinSize:  integer(a["min_size"]),
			MaxSize:  integer(a["max_size"]),
			Spread:   number(a["spread"]),
			MaxTerms: integer(a["max_terms"]),
			Strategy: str(a["strategy"]),
		}
	}
	if e, ok := m["ebs"].(map[string]any); ok {
		s.EBS = &EBS{
			VolumeSize: integer(e["volume_size"]),
			VolumeType: str(e["volume_type"]),
			DeviceName: str(e["device_name"]),
			Iops:       integer(e["iops"]),
		}
	}
	if p, ok := m["placement"].(map[string]any); ok {
		s.Placement = &Placement{
			GroupName:      str(p["group_name"]),
			Strategy:       str(p["strategy"]),
			PartitionCount: integer(p["partition_count"]),
			Tenancy:        str(p["tenancy"]),
		}
	}
	return s
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// integer reads a whole number; the schema has already bounded it, and YAML
// may have produced it as a float (1e3).
func integer(v any) int {
	switch n := v.(type) {
	case int64:
		return int(n)
	case float64:
		return int(n)
	}
	return 0
}

func number(v any) float64 {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case float64:
		return n
	}
	return 0
}

func strs(v any) []string {
	items, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, len(items))
	for i, item := range items {
		out[i] = str(item)
	}
	return out
}

func strMap(v any) map[string]string {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, item := range m {
		out[k] = str(item)
	}
	return out
}
