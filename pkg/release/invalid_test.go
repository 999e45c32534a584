package release

import (
	"errors"
	"strings"
	"testing"
)

// local is a valid local release; cases below change one thing about it.
const local = `project_name: hello
config_name: dev
target: local
services:
  web:
    command: [go, run, .]
    listen: 8080
`

// aws is a valid aws release.
const aws = `project_name: pay
config_name: prod
target: aws
aws_account_id: "123456789012"
aws_region: us-east-1
image: base
subnets: [a, b]
services:
  api:
    instance_type: t3.micro
    security_groups: [web]
`

// TestInvalid checks that each broken release gets exactly these problems, at
// exactly these positions, in this order.
func TestInvalid(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // "LINE:COL: message"
	}{
		{"empty file", "", []string{
			"1:1: file is empty; a release needs at least project_name, config_name, target and services"}},
		{"only comments", "# nothing\n\n# here\n", []string{
			"1:1: file is empty; a release needs at least project_name, config_name, target and services"}},
		{"not a mapping", "- a\n- b\n", []string{
			"1:1: a release file must be a mapping, not a list"}},
		{"scalar document", "hello\n", []string{
			"1:1: a release file must be a mapping, not a string"}},
		{"syntax error with column", "project_name: hello\nconfig_name: [dev\n", []string{
			"2:14: YAML syntax error: sequence end token ']' not found"}},
		{"bad indentation", "project_name: hello\n config_name: dev\n", []string{
			"1:15: YAML syntax error: mapping value is not allowed in this context"}},
		{"tab indentation", "services:\n\tweb: {}\n", []string{
			`2:1: YAML syntax error: found character '\t' that cannot start any token`}},
		{"two documents", local + "---\nproject_name: again\n", []string{
			"8:1: a second YAML document starts here; a release file holds exactly one"}},
		{"invalid utf-8", "project_name: h\xffllo\n", []string{
			"1:16: invalid UTF-8 (byte 0xff at offset 15); release files are UTF-8 text"}},
		{"over 1 MiB", "# " + strings.Repeat("x", MaxSize) + "\n", []string{
			"1:1: file is larger than 1 MiB, the limit for release files"}},
		{"missing required keys", "project_name: hello\n", []string{
			`1:1: missing required key "config_name"`,
			`1:1: missing required key "services"`,
			`1:1: missing required key "target"`}},
		{"unknown top-level key", local + "timout: 60\n", []string{
			`8:1: unknown key "timout" (did you mean "timeout"?)`}},
		{"unknown key far from any", local + "colour: blue\n", []string{
			`8:1: unknown key "colour"`}},
		{"duplicate key", local + "config_name: prod\n", []string{
			`8:1: duplicate key "config_name" (first at line 2, column 1)`}},
		{"duplicate service key", strings.Replace(local, "    listen: 8080\n", "    listen: 8080\n    listen: 8081\n", 1), []string{
			`8:5: services.web: duplicate key "listen" (first at line 7, column 5)`}},
		{"server-owned release_id", local + "release_id: r-1\n", []string{
			"8:1: release_id is set by odin, not the release file"}},
		{"server-owned created_at", "created_at: 2026-01-01T00:00:00Z\n" + local, []string{
			"1:1: created_at is set by odin, not the release file"}},
		{"server-owned name elsewhere is just unknown", local + "    health_check:\n      error: x\n", []string{
			`9:7: services.web.health_check: unknown key "error"`}},
		{"server-owned in service", local + "    healthy_report: {}\n", []string{
			"8:5: services.web: healthy_report is set by odin, not the release file"}},
		{"anchor and alias", strings.Replace(local, "command: [go, run, .]", "command: &cmd [go, run, .]", 1) + "  api:\n    command: *cmd\n    listen: 8081\n", []string{
			"6:14: services.web.command: YAML anchors (&cmd) are not allowed in release files; write the value out",
			"9:14: services.api.command: YAML aliases (*cmd) are not allowed in release files; write the value out"}},
		{"merge key", local + "  api:\n    <<: {listen: 1}\n", []string{
			"9:5: services.api: YAML merge keys (<<) are not allowed in release files; write the keys out",
			`9:5: services.api: missing required key "command" for target local`,
			`9:5: services.api: missing required key "listen" for target local`}},
		{"custom tag", local + "timeout: !!float 60\n", []string{
			"8:10: timeout: YAML tag !!float is not allowed in release files; only !!str is"}},
		{"complex key", local + "? [a, b]\n: c\n", []string{
			"8:3: keys must be plain strings, not a list"}},
		{"bad project name", strings.Replace(local, "project_name: hello", "project_name: Hello_World", 1), []string{
			`1:15: project_name: must be lower-case letters, digits and hyphens, starting with a letter or digit, not "Hello_World"`}},
		{"long config name", strings.Replace(local, "config_name: dev", "config_name: "+strings.Repeat("d", 41), 1), []string{
			"2:14: config_name: must be at most 40 characters long, not 41"}},
		{"empty project name", strings.Replace(local, "project_name: hello", `project_name: ""`, 1), []string{
			`1:15: project_name: must be lower-case letters, digits and hyphens, starting with a letter or digit, not ""`,
			"1:15: project_name: must not be empty"}},
		{"unknown target", strings.Replace(local, "target: local", "target: k8s", 1), []string{
			`3:9: target: must be one of local, aws, not "k8s"`}},
		{"CRLF line endings", strings.ReplaceAll(local+"timeout: 5\n", "\n", "\r\n"), []string{
			"8:10: timeout: must be at least 30, not 5"}},
		{"byte order mark", "\ufeff" + local + "timeout: 5\n", []string{
			"8:10: timeout: must be at least 30, not 5"}},
		{"timeout too small", local + "timeout: 5\n", []string{
			"8:10: timeout: must be at least 30, not 5"}},
		{"timeout too large", local + "timeout: 172801\n", []string{
			"8:10: timeout: must be at most 172800, not 172801"}},
		{"timeout not an integer", local + "timeout: 60.5\n", []string{
			"8:10: timeout: must be an integer, not a number"}},
		{"timeout as string", local + "timeout: ten\n", []string{
			"8:10: timeout: must be an integer, not a string"}},
		{"metadata value not a string", local + "metadata:\n  build: [1]\n", []string{
			"9:10: metadata.build: must be a string, not a list"}},
		{"no services", strings.Split(local, "services:")[0] + "services: {}\n", []string{
			"4:11: services: must have at least 1 service"}},
		{"services null", strings.Split(local, "services:")[0] + "services:\n", []string{
			"4:10: services: must be a mapping, not empty"}},
		{"bad service name", strings.Replace(local, "  web:", "  Web_1:", 1), []string{
			"5:3: services.Web_1: service name must be lower-case letters, digits and hyphens, starting with a letter or digit"}},
		{"service is a list", strings.Split(local, "  web:")[0] + "  web: [a]\n", []string{
			"5:8: services.web: must be a mapping, not a list"}},
		{"command is a string", strings.Replace(local, "command: [go, run, .]", "command: go run .", 1), []string{
			"6:14: services.web.command: must be a list, not a string"}},
		{"command empty", strings.Replace(local, "command: [go, run, .]", "command: []", 1), []string{
			"6:14: services.web.command: must list at least 1 item"}},
		{"missing command", strings.Replace(local, "    command: [go, run, .]\n", "", 1), []string{
			`6:5: services.web: missing required key "command" for target local`}},
		{"instances too many", local + "    instances: 21\n", []string{
			"8:16: services.web.instances: must be at most 20, not 21"}},
		{"instances zero", local + "    instances: 0\n", []string{
			"8:16: services.web.instances: must be at least 1, not 0"}},
		{"listen below 1024", strings.Replace(local, "listen: 8080", "listen: 80", 1), []string{
			"7:13: services.web.listen: must be at least 1024, not 80"}},
		{"listen quoted", strings.Replace(local, "listen: 8080", `listen: "8080"`, 1), []string{
			"7:13: services.web.listen: must be an integer, not a string"}},
		{"duplicate listen port", local + "  api:\n    command: [x]\n    listen: 8080\n", []string{
			"10:13: services.api.listen: port 8080 is already the listen port of service web"}},
		{"env PORT reserved", local + "    env:\n      PORT: \"1\"\n      ODIN_X: y\n", []string{
			"9:7: services.web.env.PORT: is set by odin for each instance; choose another name",
			"10:7: services.web.env.ODIN_X: is set by odin for each instance; choose another name"}},
		{"env bad name", local + "    env:\n      1ABC: x\n", []string{
			"9:7: services.web.env.1ABC: variable name must be letters, digits and underscores, not starting with a digit"}},
		{"env value not a string", local + "    env:\n      DEBUG: true\n", []string{
			"9:14: services.web.env.DEBUG: must be a string, not a boolean"}},
		{"health check type", local + "    health_check:\n      type: grpc\n", []string{
			`9:13: services.web.health_check.type: must be one of http, tcp, not "grpc"`}},
		{"health check path", local + "    health_check:\n      path: healthz\n", []string{
			`9:13: services.web.health_check.path: must start with /, not "healthz"`}},
		{"health check status", local + "    health_check:\n      expected_status: 600\n", []string{
			"9:24: services.web.health_check.expected_status: must be at most 599, not 600"}},
		{"tcp check with path", local + "    health_check:\n      type: tcp\n      path: /x\n", []string{
			"10:7: services.web.health_check.path: applies only to http checks, and type is tcp"}},
		{"grace over timeout", local + "    health_check:\n      grace_period: 900\n", []string{
			"9:21: services.web.health_check.grace_period: must not be longer than the release timeout (600), not 900"}},
		{"unknown health check key", local + "    health_check:\n      intervall: 5\n", []string{
			`9:7: services.web.health_check: unknown key "intervall" (did you mean "interval"?)`}},
		{"aws field in local", local + "    instance_type: t3.micro\n", []string{
			"8:5: services.web.instance_type: applies only to target aws"}},
		{"aws top-level field in local", local + "subnets: [a]\n", []string{
			"8:1: subnets: applies only to target aws"}},
		{"aws missing fields", "project_name: pay\nconfig_name: prod\ntarget: aws\nservices:\n  api:\n    instance_type: t3.micro\n", []string{
			`1:1: missing required key "aws_account_id" for target aws`,
			`1:1: missing required key "aws_region" for target aws`,
			`1:1: missing required key "image" for target aws`,
			`1:1: missing required key "subnets" for target aws`,
			`6:5: services.api: missing required key "security_groups" for target aws`}},
		{"aws account unquoted", strings.Replace(aws, `"123456789012"`, "123456789012", 1), []string{
			"4:17: aws_account_id: must be a string, not a number (put it in quotes)"}},
		{"aws account short", strings.Replace(aws, `"123456789012"`, `"12345"`, 1), []string{
			`4:17: aws_account_id: must be exactly 12 digits, not "12345"`}},
		{"aws region", strings.Replace(aws, "us-east-1", "useast1", 1), []string{
			`5:13: aws_region: must be an AWS Region such as us-east-1, not "useast1"`}},
		{"aws duplicate subnet", strings.Replace(aws, "[a, b]", "[a, b, a]", 1), []string{
			"7:17: subnets[2]: repeats subnets[0] (already at line 7)"}},
		{"aws empty subnets", strings.Replace(aws, "[a, b]", "[]", 1), []string{
			"7:10: subnets: must list at least 1 item"}},
		{"aws missing instance type", strings.Replace(aws, "    instance_type: t3.micro\n", "    profile: p\n", 1), []string{
			`10:5: services.api: missing required key "instance_type" for target aws`}},
		{"aws bad instance type", strings.Replace(aws, "t3.micro", "large", 1), []string{
			`10:20: services.api.instance_type: must be an EC2 instance type such as t3.micro, not "large"`}},
		{"aws local field", aws + "    command: [x]\n", []string{
			"12:5: services.api.command: applies only to target local"}},
		{"aws health check path", aws + "    health_check:\n      path: /x\n", []string{
			"13:7: services.api.health_check.path: applies only to target local"}},
		{"aws min over max", aws + "    autoscaling:\n      min_size: 5\n      max_size: 2\n", []string{
			"14:17: services.api.autoscaling.max_size: must be at least min_size (5), not 2"}},
		{"aws spread over 1", aws + "    autoscaling:\n      spread: 1.5\n", []string{
			"13:15: services.api.autoscaling.spread: must be at most 1, not 1.500"}},
		{"aws strategy", aws + "    autoscaling:\n      strategy: Fast\n", []string{
			`13:17: services.api.autoscaling.strategy: must be one of AllAtOnce, OneThenAllWithCanary, 25PercentStepRolloutNoCanary, 10PercentStepRolloutNoCanary, 10AtATimeNoCanary, 20AtATimeNoCanary, not "Fast"`}},
		{"aws duplicate security group", strings.Replace(aws, "[web]", "[web, web]", 1), []string{
			"11:28: services.api.security_groups[1]: repeats services.api.security_groups[0] (already at line 11)"}},
		{"aws ebs without size", aws + "    ebs:\n      volume_type: gp3\n", []string{
			`13:7: services.api.ebs: missing required key "volume_size"`}},
		{"aws ebs device", aws + "    ebs:\n      volume_size: 8\n      device_name: sda\n", []string{
			`14:20: services.api.ebs.device_name: must be a device name such as /dev/xvda or /dev/sdf, not "sda"`}},
		{"aws partition without count", aws + "    placement:\n      group_name: g\n      strategy: partition\n", []string{
			`13:7: services.api.placement: missing required key "partition_count" for strategy partition`}},
		{"aws count without partition", aws + "    placement:\n      group_name: g\n      strategy: spread\n      partition_count: 2\n", []string{
			"15:7: services.api.placement.partition_count: applies only to strategy partition"}},
		{"aws strategy without group", aws + "    placement:\n      strategy: cluster\n", []string{
			`13:7: services.api.placement: missing required key "group_name" (strategy needs a placement group)`}},
		{"aws tenancy", aws + "    placement:\n      tenancy: host\n", []string{
			`13:16: services.api.placement.tenancy: must be one of default, dedicated, not "host"`}},
		{"aws reserved tag", aws + "    tags:\n      aws:team: x\n", []string{
			"13:7: services.api.tags[\"aws:team\"]: tag keys starting with aws: are reserved by AWS"}},
		{"aws public ip not bool", aws + "    associate_public_ip_address: yes\n", []string{
			"12:34: services.api.associate_public_ip_address: must be a boolean, not a string"}},
		{"aws lifecycle hook", aws + "lifecycle:\n  drain:\n    transition: autoscaling:EC2_INSTANCE_TERMINATING\n    role: admin\n", []string{
			`14:5: lifecycle.drain: missing required key "sns"`,
			`15:11: lifecycle.drain.role: must be an IAM role ARN such as arn:aws:iam::123456789012:role/name, not "admin"`}},
		{"aws user data variable", aws + "user_data: echo {{RELEASE}}\n", []string{
			"12:12: user_data: unknown variable {{RELEASE}}; odin replaces {{RELEASE_ID}}, {{PROJECT_NAME}}, {{CONFIG_NAME}}, {{SERVICE_NAME}}, {{RELEASE_BUCKET}}, {{AWS_ACCOUNT_ID}}, {{AWS_REGION}}, {{RELEASE_DIR}}"}},
		{"aws missing security groups", strings.Replace(aws, "    security_groups: [web]\n", "", 1), []string{
			`10:5: services.api: missing required key "security_groups" for target aws`}},
		{"aws security group id", strings.Replace(aws, "[web]", "[web, sg-12345]", 1), []string{
			`11:28: services.api.security_groups[1]: must be a security group id (sg- and 8 or 17 lower-case hex digits; a Name tag value cannot start with sg-), not "sg-12345"`}},
		{"aws image id", strings.Replace(aws, "image: base", "image: ami-0ABCDEF1", 1), []string{
			`6:8: image: must be an AMI id (ami- and 8 or 17 lower-case hex digits; a Name tag value cannot start with ami-), not "ami-0ABCDEF1"`}},
		{"aws subnet id", strings.Replace(aws, "[a, b]", "[a, subnet-0a1b2c3d4e]", 1), []string{
			`7:14: subnets[1]: must be a subnet id (subnet- and 8 or 17 lower-case hex digits; a Name tag value cannot start with subnet-), not "subnet-0a1b2c3d4e"`}},
		{"aws target group name", aws + "    target_groups: [blue, green-]\n", []string{
			`12:27: services.api.target_groups[1]: must be 1 to 32 letters, digits and hyphens, not starting or ending with a hyphen, not "green-"`}},
		{"aws elb name too long", aws + "    elbs: [" + strings.Repeat("e", 33) + "]\n", []string{
			`12:12: services.api.elbs[0]: must be 1 to 32 letters, digits and hyphens, not starting or ending with a hyphen, not "` + strings.Repeat("e", 33) + `"`}},
		{"aws profile", aws + "    profile: api/role\n", []string{
			`12:14: services.api.profile: must be 1 to 128 letters, digits and any of +=,.@_-, not "api/role"`}},
		{"aws io2 without iops", aws + "    ebs:\n      volume_size: 8\n      volume_type: io2\n", []string{
			`13:7: services.api.ebs: missing required key "iops" for volume_type io2`}},
		{"aws io1 iops too high", aws + "    ebs:\n      volume_size: 8\n      volume_type: io1\n      iops: 100000\n", []string{
			"15:13: services.api.ebs.iops: must be at most 64000 for volume_type io1, not 100000"}},
		{"aws gp3 iops too low", aws + "    ebs:\n      volume_size: 8\n      iops: 1000\n", []string{
			"14:13: services.api.ebs.iops: must be at least 3000 for volume_type gp3, not 1000"}},
		{"aws gp2 iops", aws + "    ebs:\n      volume_size: 8\n      volume_type: gp2\n      iops: 3000\n", []string{
			"15:7: services.api.ebs.iops: applies only to volume_type gp3, io1 and io2, and volume_type is gp2"}},
		{"aws iops not an integer", aws + "    ebs:\n      volume_size: 8\n      iops: 3000.5\n", []string{
			"14:13: services.api.ebs.iops: must be an integer, not a number"}},
		{"aws tags odin sets", aws + "    tags:\n      team: pay\n      name: api\n      ProjectName: pay\n      odin:capacity: \"9\"\n", []string{
			"14:7: services.api.tags.name: odin sets the Name tag itself; choose another key",
			"15:7: services.api.tags.ProjectName: odin sets the ProjectName tag itself; choose another key",
			"16:7: services.api.tags[\"odin:capacity\"]: tag keys starting with odin: are odin's own (odin:execution, odin:capacity); choose another key"}},
		{"aws lifecycle role in another account", aws + "lifecycle:\n  drain:\n    transition: autoscaling:EC2_INSTANCE_TERMINATING\n" +
			"    role: arn:aws:iam::210987654321:role/drain\n    sns: arn:aws:sns:us-east-1:123456789012:drain\n", []string{
			"15:11: lifecycle.drain.role: must be a role of account 123456789012 (aws_account_id), not 210987654321"}},
		{"aws lifecycle topic elsewhere", aws + "lifecycle:\n  drain:\n    transition: autoscaling:EC2_INSTANCE_TERMINATING\n" +
			"    role: arn:aws:iam::123456789012:role/drain\n    sns: arn:aws:sns:eu-west-1:210987654321:drain\n", []string{
			"16:10: lifecycle.drain.sns: must be a topic in region us-east-1 (aws_region), not eu-west-1",
			"16:10: lifecycle.drain.sns: must be a topic of account 123456789012 (aws_account_id), not 210987654321"}},
		{"aws lifecycle with a bad account checks no ARN", strings.Replace(aws, `"123456789012"`, `"1234"`, 1) + "lifecycle:\n  drain:\n    transition: autoscaling:EC2_INSTANCE_TERMINATING\n" +
			"    role: arn:aws:iam::123456789012:role/drain\n    sns: arn:aws:sns:us-east-1:123456789012:drain\n", []string{
			`4:17: aws_account_id: must be exactly 12 digits, not "1234"`}},
		{"aws user data grows too long", aws + `user_data: "` + strings.Repeat("{{RELEASE_DIR}} ", 200) + "\"\n", []string{
			"12:12: user_data: may become 22000 bytes long once odin replaces its variables (for service api and a 63-character bucket name); EC2 allows at most 16384"}},
		{"aws user data too long as written", aws + "user_data: " + strings.Repeat("x", MaxUserDataBytes+1) + "\n", []string{
			"12:12: user_data: must be at most 16384 characters long, not 16385"}},
		{"too deep", local + "metadata: " + strings.Repeat("[", 30) + strings.Repeat("]", 30) + "\n", []string{
			"8:11: metadata: must be a mapping, not a list",
			"8:35: metadata[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]: nested more than 24 levels deep"}},
		{"huge number", local + "timeout: 99999999999999999999\n", []string{
			"8:10: timeout: must be at most 172800, not 100000000000000000000"}},
		{"number past float range", local + "timeout: 1" + strings.Repeat("0", 400) + "\n", []string{
			"8:10: timeout: must be an integer, not a string"}},
		{"infinity", local + "timeout: .inf\n", []string{
			"8:10: timeout: .inf is not a finite number"}},
		{"many problems in file order", "target: local\nproject_name: A\nservices:\n  web:\n    listen: 1\n", []string{
			`1:1: missing required key "config_name"`,
			`2:15: project_name: must be lower-case letters, digits and hyphens, starting with a letter or digit, not "A"`,
			`5:5: services.web: missing required key "command" for target local`,
			"5:13: services.web.listen: must be at least 1024, not 1"}},
	}
	if len(tests) < 40 {
		t.Fatalf("only %d cases; the issue asks for at least 40", len(tests))
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		if seen[tt.name] {
			t.Fatalf("two cases named %q", tt.name)
		}
		seen[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("r.yml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", f.Release)
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error %T %v, want Problems", err, err)
			}
			var got []string
			for _, p := range ps {
				if p.File != "r.yml" {
					t.Errorf("problem names file %q, want r.yml", p.File)
				}
				got = append(got, strings.TrimPrefix(p.String(), "r.yml:"))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
