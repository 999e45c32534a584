// Package install builds the CloudFormation templates that install odin's deployer on AWS.
//
// There are three stacks: the releases bucket (BucketStack), the deployer itself in the
// same account and Region (DeployerStack: the task handler's Lambda function, its log
// group, the state machine, their roles), and in every account odin deploys to, the role
// the deployer assumes there (TargetStack). The templates are built here rather than kept
// as files so that they embed what the code defines: the state machine's definition and the
// target role's policies.
package install

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/odin-deploy/odin/pkg/contract"
	"github.com/odin-deploy/odin/pkg/deployer"
	"github.com/odin-deploy/odin/pkg/deployer/awsprovider"
)

// Stack names.
const (
	BucketStack   = "odin-deployer-bucket"
	DeployerStack = contract.DeployerName
	TargetStack   = "odin-deployer-target"
)

// Names of the resources the deployer stack creates; IAM names are global to an account,
// so the deployer stack can be installed in one Region of an account.
const (
	FunctionRoleName = "odin-deployer-function"
	StatesRoleName   = "odin-deployer-states"
	LogGroupName     = "/aws/lambda/" + deployer.FunctionName
	VersionTag       = "odin:version"
)

// logRetentionDays are the retention periods CloudWatch Logs accepts.
var logRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// BucketTemplate is the releases bucket's stack: versioned, encrypted, private, reachable
// over TLS only, and kept when the stack is deleted (it holds every release's history).
func BucketTemplate() []byte {
	return template{
		description: "odin: the releases bucket of odin's deployer (versioned, encrypted, private, TLS only; kept when the stack is deleted)",
		parameters: object{
			{"BucketName", object{
				{"Type", "String"},
				{"Default", ""},
				{"Description", "The bucket's name; empty for odin-ACCOUNT-REGION"},
				{"AllowedPattern", `^$|^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`},
				{"ConstraintDescription", "an S3 bucket name: 3 to 63 lowercase letters, digits, dots and hyphens"},
			}},
		},
		conditions: object{
			{"DefaultBucketName", equals(ref("BucketName"), "")},
		},
		resources: object{
			{"Bucket", object{
				{"Type", "AWS::S3::Bucket"},
				{"DeletionPolicy", "Retain"},
				{"UpdateReplacePolicy", "Retain"},
				{"Properties", object{
					{"BucketName", ifThen("DefaultBucketName", sub("odin-${AWS::AccountId}-${AWS::Region}"), ref("BucketName"))},
					{"VersioningConfiguration", object{{"Status", "Enabled"}}},
					{"BucketEncryption", object{
						{"ServerSideEncryptionConfiguration", []object{{
							{"ServerSideEncryptionByDefault", object{{"SSEAlgorithm", "AES256"}}},
						}}},
					}},
					{"PublicAccessBlockConfiguration", object{
						{"BlockPublicAcls", true},
						{"BlockPublicPolicy", true},
						{"IgnorePublicAcls", true},
						{"RestrictPublicBuckets", true},
					}},
					{"OwnershipControls", object{
						{"Rules", []object{{{"ObjectOwnership", "BucketOwnerEnforced"}}}},
					}},
				}},
			}},
			{"BucketPolicy", object{
				{"Type", "AWS::S3::BucketPolicy"},
				// The retained bucket keeps refusing plain HTTP.
				{"DeletionPolicy", "Retain"},
				{"UpdateReplacePolicy", "Retain"},
				{"Properties", object{
					{"Bucket", ref("Bucket")},
					{"PolicyDocument", policy(awsprovider.Policy{
						Version: "2012-10-17",
						Statement: []awsprovider.Statement{{
							Sid:       "TLSOnly",
							Effect:    "Deny",
							Principal: map[string]any{"AWS": "*"},
							Action:    []string{"s3:*"},
							Resource:  []string{"${Bucket.Arn}", "${Bucket.Arn}/*"},
							Condition: map[string]map[string]any{"Bool": {"aws:SecureTransport": "false"}},
						}},
					})},
				}},
			}},
		},
		outputs: object{
			{"BucketName", output("The releases bucket", ref("Bucket"))},
			{"BucketArn", output("The releases bucket's ARN", getAtt("Bucket", "Arn"))},
		},
	}.yaml()
}

// DeployerTemplate is the deployer's stack: the task handler's Lambda function
// (deployer.FunctionName) with its role and log group, and the state machine
// (deployer.StateMachineName) with its role, optionally with an alarm on failed deploys.
func DeployerTemplate() []byte {
	// The definition names the function as ${FunctionArn}; Fn::Sub's own form of that is
	// ${Function.Arn}. DefinitionSubstitutions would say it more directly, but moto ignores
	// it, and Fn::Sub's list form makes moto turn the definition's $$ into $.
	definition := strings.ReplaceAll(string(deployer.Template()), "${FunctionArn}", "${Function.Arn}")
	versionTags := []object{{{"Key", VersionTag}, {"Value", ref("Version")}}}
	return template{
		description: "odin: odin's deployer, the state machine that deploys releases and the Lambda function behind its tasks",
		parameters: object{
			{"BucketName", object{
				{"Type", "String"},
				{"Description", "The releases bucket (the output BucketName of stack " + BucketStack + ")"},
				{"MinLength", 3},
			}},
			{"CodeKey", object{
				{"Type", "String"},
				{"Description", "The key, in the releases bucket, of the Lambda function's zip (odin built for linux/arm64, as bootstrap)"},
				{"MinLength", 1},
			}},
			{"Version", object{
				{"Type", "String"},
				{"Description", "The version of odin in that zip"},
				{"MinLength", 1},
			}},
			{"TargetRoleName", object{
				{"Type", "String"},
				{"Default", awsprovider.DefaultRoleName},
				{"Description", "The role the deployer assumes in the account of each release (stack " + TargetStack + ")"},
				{"AllowedPattern", `^[\w+=,.@-]{1,64}$`},
			}},
			{"LogRetentionDays", object{
				{"Type", "Number"},
				{"Default", 90},
				{"Description", "How long the function's logs are kept"},
				{"AllowedValues", logRetentionDays},
			}},
			{"AlarmTopicArn", object{
				{"Type", "String"},
				{"Default", ""},
				{"Description", "An SNS topic told when a deploy fails; empty for none"},
				{"AllowedPattern", `^$|^arn:[\w-]+:sns:[\w-]+:\d{12}:[\w-]+$`},
			}},
		},
		conditions: object{
			{"HasAlarmTopic", not(equals(ref("AlarmTopicArn"), ""))},
		},
		resources: object{
			{"LogGroup", object{
				{"Type", "AWS::Logs::LogGroup"},
				{"DeletionPolicy", "Delete"},
				{"UpdateReplacePolicy", "Delete"},
				{"Properties", object{
					{"LogGroupName", LogGroupName},
					{"RetentionInDays", ref("LogRetentionDays")},
				}},
			}},
			{"FunctionRole", object{
				{"Type", "AWS::IAM::Role"},
				{"Properties", object{
					{"RoleName", FunctionRoleName},
					{"Description", "odin's deployer function: the releases bucket, its own executions, its logs, and the role it assumes in target accounts"},
					{"AssumeRolePolicyDocument", policy(servicePrincipal("lambda.amazonaws.com"))},
					{"Policies", []object{{
						{"PolicyName", "odin-deployer"},
						{"PolicyDocument", policy(awsprovider.Policy{
							Version: "2012-10-17",
							Statement: []awsprovider.Statement{
								{
									// HeadObject is authorized as GetObject.
									Sid:      "ReleaseObjects",
									Effect:   "Allow",
									Action:   []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"},
									Resource: "arn:${AWS::Partition}:s3:::${BucketName}/*",
								},
								{
									// Without it a missing key reads as 403, not 404.
									Sid:      "ReleasesBucket",
									Effect:   "Allow",
									Action:   []string{"s3:ListBucket"},
									Resource: "arn:${AWS::Partition}:s3:::${BucketName}",
								},
								{
									// Whether the execution that holds a lock still runs.
									Sid:      "OwnExecutions",
									Effect:   "Allow",
									Action:   []string{"states:DescribeExecution"},
									Resource: "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:" + deployer.StateMachineName + ":*",
								},
								{
									Sid:      "TargetAccounts",
									Effect:   "Allow",
									Action:   []string{"sts:AssumeRole", "sts:SetSourceIdentity"},
									Resource: "arn:${AWS::Partition}:iam::*:role/${TargetRoleName}",
								},
								{
									Sid:      "Logs",
									Effect:   "Allow",
									Action:   []string{"logs:CreateLogStream", "logs:PutLogEvents"},
									Resource: "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${LogGroup}:*",
								},
							},
						})},
					}}},
				}},
			}},
			{"Function", object{
				{"Type", "AWS::Lambda::Function"},
				{"Properties", object{
					{"FunctionName", deployer.FunctionName},
					{"Description", "odin's deployer: every task of the " + deployer.StateMachineName + " state machine"},
					{"Runtime", "provided.al2023"},
					{"Architectures", []string{"arm64"}},
					{"Handler", "bootstrap"},
					{"Code", object{{"S3Bucket", ref("BucketName")}, {"S3Key", ref("CodeKey")}}},
					{"MemorySize", 512},
					{"Timeout", 900},
					{"Role", getAtt("FunctionRole", "Arn")},
					{"Environment", object{{"Variables", object{
						{"ODIN_TARGET_ROLE", ref("TargetRoleName")},
						{"ODIN_VERSION", ref("Version")},
					}}}},
					{"LoggingConfig", object{{"LogGroup", ref("LogGroup")}}},
					{"Tags", versionTags},
				}},
			}},
			{"StatesRole", object{
				{"Type", "AWS::IAM::Role"},
				{"Properties", object{
					{"RoleName", StatesRoleName},
					{"Description", "odin's deployer state machine: invoke its function"},
					{"AssumeRolePolicyDocument", policy(servicePrincipal("states.amazonaws.com"))},
					{"Policies", []object{{
						{"PolicyName", "odin-deployer"},
						{"PolicyDocument", policy(awsprovider.Policy{
							Version: "2012-10-17",
							Statement: []awsprovider.Statement{{
								Sid:      "InvokeFunction",
								Effect:   "Allow",
								Action:   []string{"lambda:InvokeFunction"},
								Resource: []string{"${Function.Arn}", "${Function.Arn}:*"},
							}},
						})},
					}}},
				}},
			}},
			{"StateMachine", object{
				{"Type", "AWS::StepFunctions::StateMachine"},
				{"Properties", object{
					{"StateMachineName", deployer.StateMachineName},
					{"StateMachineType", "STANDARD"},
					{"DefinitionString", sub(definition)},
					{"RoleArn", getAtt("StatesRole", "Arn")},
					{"Tags", versionTags},
				}},
			}},
			{"FailedDeploysAlarm", object{
				{"Type", "AWS::CloudWatch::Alarm"},
				{"Condition", "HasAlarmTopic"},
				{"Properties", object{
					{"AlarmName", deployer.StateMachineName + "-executions-failed"},
					{"AlarmDescription", "A deploy by odin's deployer failed (see odin fail)"},
					{"Namespace", "AWS/States"},
					{"MetricName", "ExecutionsFailed"},
					{"Dimensions", []object{{{"Name", "StateMachineArn"}, {"Value", ref("StateMachine")}}}},
					{"Statistic", "Sum"},
					{"Period", 300},
					{"EvaluationPeriods", 1},
					{"Threshold", 1},
					{"ComparisonOperator", "GreaterThanOrEqualToThreshold"},
					{"TreatMissingData", "notBreaching"},
					{"AlarmActions", []any{ref("AlarmTopicArn")}},
				}},
			}},
		},
		outputs: object{
			{"StateMachineArn", output("The deployer state machine", ref("StateMachine"))},
			{"StateMachineName", output("The deployer state machine's name", getAtt("StateMachine", "Name"))},
			{"FunctionArn", output("The deployer's Lambda function", getAtt("Function", "Arn"))},
			{"FunctionRoleArn", output("The role of the deployer's function, which target roles trust", getAtt("FunctionRole", "Arn"))},
			{"BucketName", output("The releases bucket", ref("BucketName"))},
			{"Version", output("The version of odin the function runs", ref("Version"))},
		},
	}.yaml()
}

// TargetTemplate is the stack installed in each account odin deploys to: the role the
// deployer assumes there, trusted by the deployer function's role only, allowed what
// awsprovider.TargetPolicy allows.
func TargetTemplate() []byte {
	return template{
		description: "odin: the role odin's deployer assumes in this account to deploy releases here",
		parameters: object{
			{"DeployerAccount", object{
				{"Type", "String"},
				{"Description", "The account where odin's deployer runs (stack " + DeployerStack + ")"},
				{"AllowedPattern", `^\d{12}$`},
				{"ConstraintDescription", "an account ID: 12 digits"},
			}},
			{"DeployerRoleName", object{
				{"Type", "String"},
				{"Default", FunctionRoleName},
				{"Description", "The deployer function's role in that account"},
				{"AllowedPattern", `^[\w+=,.@-]{1,64}$`},
			}},
			{"RoleName", object{
				{"Type", "String"},
				{"Default", awsprovider.DefaultRoleName},
				{"Description", "The role to create here (the deployer's TargetRoleName)"},
				{"AllowedPattern", `^[\w+=,.@-]{1,64}$`},
			}},
		},
		resources: object{
			{"Role", object{
				{"Type", "AWS::IAM::Role"},
				{"Properties", object{
					{"RoleName", ref("RoleName")},
					{"Description", "odin's deployer deploys releases in this account as this role"},
					{"AssumeRolePolicyDocument", policy(awsprovider.TrustPolicy("arn:${AWS::Partition}:iam::${DeployerAccount}:root", "arn:${AWS::Partition}:iam::${DeployerAccount}:role/${DeployerRoleName}"))},
					{"Policies", []object{{
						{"PolicyName", "odin-deployer"},
						{"PolicyDocument", policy(awsprovider.TargetPolicy("${AWS::Partition}"))},
					}}},
				}},
			}},
		},
		outputs: object{
			{"RoleArn", output("The role odin's deployer assumes here", getAtt("Role", "Arn"))},
		},
	}.yaml()
}

func servicePrincipal(service string) awsprovider.Policy {
	return awsprovider.Policy{
		Version: "2012-10-17",
		Statement: []awsprovider.Statement{{
			Sid:       "Service",
			Effect:    "Allow",
			Principal: map[string]any{"Service": service},
			Action:    []string{"sts:AssumeRole"},
		}},
	}
}

// template is a CloudFormation template's sections.
type template struct {
	description                                string
	parameters, conditions, resources, outputs object
}

func (t template) yaml() []byte {
	doc := object{{"AWSTemplateFormatVersion", "2010-09-09"}, {"Description", t.description}}
	for _, s := range []field{{"Parameters", t.parameters}, {"Conditions", t.conditions}, {"Resources", t.resources}, {"Outputs", t.outputs}} {
		if len(s.value.(object)) > 0 {
			doc = append(doc, s)
		}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		// Only values built above are encoded; the tests encode every template.
		panic(fmt.Sprintf("encode template: %v", err))
	}
	enc.Close()
	return buf.Bytes()
}

// object is a YAML mapping whose keys keep the order they are written in.
type object []field

type field struct {
	key   string
	value any
}

func (o object) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, f := range o {
		var k, v yaml.Node
		if err := k.Encode(f.key); err != nil {
			return nil, err
		}
		if err := v.Encode(f.value); err != nil {
			return nil, fmt.Errorf("%s: %w", f.key, err)
		}
		n.Content = append(n.Content, &k, &v)
	}
	return n, nil
}

func ref(name string) object { return object{{"Ref", name}} }

func sub(s string) object { return object{{"Fn::Sub", s}} }

func getAtt(resource, attribute string) object {
	return object{{"Fn::GetAtt", []string{resource, attribute}}}
}

func equals(a, b any) object { return object{{"Fn::Equals", []any{a, b}}} }

func not(condition any) object { return object{{"Fn::Not", []any{condition}}} }

func ifThen(condition string, then, otherwise any) object {
	return object{{"Fn::If", []any{condition, then, otherwise}}}
}

func output(description string, value any) object {
	return object{{"Description", description}, {"Value", value}}
}

// policy is an IAM policy document as a template value, in the document's own key order.
// A string holding ${...} becomes an Fn::Sub, which is how the documents name the
// partition, the account, parameters and other resources' attributes. (An IAM policy
// variable would have to be written ${!aws:...}; none of these documents use one.)
func policy(p awsprovider.Policy) *yaml.Node {
	b, err := json.Marshal(p)
	if err != nil {
		panic(fmt.Sprintf("encode policy: %v", err))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		panic(fmt.Sprintf("decode policy: %v", err))
	}
	return substitute(doc.Content[0])
}

// substitute drops the JSON styles of n (quotes, flow collections) and wraps each string
// with a ${...} in an Fn::Sub.
func substitute(n *yaml.Node) *yaml.Node {
	n.Style = 0
	switch n.Kind {
	case yaml.ScalarNode:
		if strings.Contains(n.Value, "${") {
			return &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
				{Kind: yaml.ScalarNode, Tag: "!!str", Value: "Fn::Sub"}, n,
			}}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			n.Content[i].Style = 0
			n.Content[i+1] = substitute(n.Content[i+1])
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			n.Content[i] = substitute(c)
		}
	}
	return n
}
