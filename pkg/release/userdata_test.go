package release

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/odin-deploy/odin/schema"
)

func TestUserData(t *testing.T) {
	r := &Release{ProjectName: "pay", ConfigName: "prod", AWSAccountID: "123456789012", AWSRegion: "eu-west-1"}
	v := UserDataValues{ReleaseID: "r-0123456789abcdef", Service: "api", Bucket: "odin-releases"}
	tests := []struct {
		name, userData, want string
	}{
		{"every variable",
			"{{RELEASE_ID}} {{PROJECT_NAME}} {{CONFIG_NAME}} {{SERVICE_NAME}} {{RELEASE_BUCKET}} {{AWS_ACCOUNT_ID}} {{AWS_REGION}}",
			"r-0123456789abcdef pay prod api odin-releases 123456789012 eu-west-1"},
		{"release dir holds the release object",
			"aws s3 cp {{RELEASE_DIR}}/release /etc/odin/release.yml",
			"aws s3 cp s3://odin-releases/123456789012/pay/prod/r-0123456789abcdef/release /etc/odin/release.yml"},
		{"spaces inside the braces", "{{ SERVICE_NAME }}-{{\tAWS_REGION}}", "api-eu-west-1"},
		{"repeated", "{{SERVICE_NAME}}{{SERVICE_NAME}}", "apiapi"},
		{"unknown placeholders stay", "{{RELEASE}} {{}} {{release_id}}", "{{RELEASE}} {{}} {{release_id}}"},
		{"shell braces stay", "${HOME} {RELEASE_ID} {{ RELEASE_ID", "${HOME} {RELEASE_ID} {{ RELEASE_ID"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.UserData = tt.userData
			if got := UserData(r, v); got != tt.want {
				t.Errorf("UserData(%q) = %q, want %q", tt.userData, got, tt.want)
			}
		})
	}
}

// TestUserDataReplacesWhatValidationNames: every variable the unknown-variable
// message lists is one UserData replaces.
func TestUserDataReplacesWhatValidationNames(t *testing.T) {
	r := &Release{ProjectName: "p", ConfigName: "c", AWSAccountID: "123456789012", AWSRegion: "us-east-1"}
	for _, name := range userDataVariables {
		r.UserData = "{{" + name + "}}"
		if got := UserData(r, UserDataValues{ReleaseID: "r-1", Service: "s", Bucket: "b"}); got == r.UserData || got == "" {
			t.Errorf("{{%s}} became %q", name, got)
		}
	}
}

// TestLimitsMatchSchema keeps the limits the schema tells editors equal to
// those the semantic checks apply.
func TestLimitsMatchSchema(t *testing.T) {
	type pattern struct {
		Pattern string `json:"pattern"`
	}
	var doc struct {
		Properties struct {
			UserData struct {
				MaxLength int `json:"maxLength"`
			} `json:"user_data"`
			Account pattern `json:"aws_account_id"`
			Region  pattern `json:"aws_region"`
		} `json:"properties"`
		Defs struct {
			EBS struct {
				Properties struct {
					VolumeType struct {
						Enum []string `json:"enum"`
					} `json:"volume_type"`
				} `json:"properties"`
			} `json:"ebs"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(schema.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Properties.UserData.MaxLength != MaxUserDataBytes {
		t.Errorf("schema user_data maxLength %d, MaxUserDataBytes %d", doc.Properties.UserData.MaxLength, MaxUserDataBytes)
	}
	if doc.Properties.Account.Pattern != accountRE().String() || doc.Properties.Region.Pattern != regionRE().String() {
		t.Errorf("schema account and region patterns %q, %q; code %q, %q",
			doc.Properties.Account.Pattern, doc.Properties.Region.Pattern, accountRE(), regionRE())
	}
	types := doc.Defs.EBS.Properties.VolumeType.Enum
	if len(types) != len(iopsLimits) {
		t.Errorf("schema volume types %v, iopsLimits has %d", types, len(iopsLimits))
	}
	for _, vt := range types {
		if _, ok := iopsLimits[vt]; !ok {
			t.Errorf("volume type %s has no IOPS rule", vt)
		}
	}
}

// TestValidAWS: what the AWS checks must still accept.
func TestValidAWS(t *testing.T) {
	tests := []struct{ name, yaml string }{
		{"ids", strings.NewReplacer("image: base", "image: ami-0123456789abcdef0",
			"[a, b]", "[subnet-0a1b2c3d, private-a]", "[web]", "[sg-0a1b2c3d4e5f67890, web]").Replace(aws)},
		{"names that only contain the id prefixes", strings.NewReplacer("image: base", "image: base-ami-1",
			"[a, b]", "[private-subnet-1]", "[web]", "[web-sg-1]").Replace(aws)},
		{"gp3 without iops", aws + "    ebs:\n      volume_size: 8\n"},
		{"gp3 iops at the limits", aws + "    ebs:\n      volume_size: 8\n      iops: 16000\n"},
		{"io1 iops", aws + "    ebs:\n      volume_size: 8\n      volume_type: io1\n      iops: 100\n"},
		{"io2 iops as a float", aws + "    ebs:\n      volume_size: 8\n      volume_type: io2\n      iops: 2.56e5\n"},
		{"load balancer names", aws + "    target_groups: [a, Blue-1]\n    elbs: [" + strings.Repeat("e", 32) + "]\n    profile: api+role=x,y.z@w_v-1\n"},
		{"tags odin does not set", aws + "    tags:\n      Team: pay\n      Names: x\n      deploy-with: y\n"},
		{"lifecycle in the release's account and region", aws + "lifecycle:\n  drain:\n    transition: autoscaling:EC2_INSTANCE_TERMINATING\n" +
			"    role: arn:aws:iam::123456789012:role/drain\n    sns: arn:aws:sns:us-east-1:123456789012:drain\n"},
		{"user data that fits once replaced", aws + `user_data: "` + strings.Repeat("{{RELEASE_DIR}} ", 148) + "\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse("r.yml", []byte(tt.yaml)); err != nil {
				t.Errorf("refused:\n%v", err)
			}
		})
	}
	f, err := Parse("r.yml", []byte(aws+"    ebs:\n      volume_size: 8\n      volume_type: io2\n      iops: 3000\n"))
	if err != nil || f.Release.Services["api"].EBS.Iops != 3000 {
		t.Errorf("iops not decoded: %+v, %v", f, err)
	}
}
