"""Codex app-server protocol types, GENERATED from the pinned CLI's schema: do not edit.

Regenerate with `.venv/bin/python tools/agents/generate_codex_protocol.py` after
refreshing `tools/agents/codex-schema/` for a new pinned codex version.
"""
# tack: allow-file P006 because the module is generated from the protocol schema, one class per type
# A RootModel-typed field keeps its schema default as a plain value, which pydantic validates
# (`validate_default=True`) but mypy reads as a wrong assignment.
# mypy: disable-error-code="assignment"

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, RootModel


class AbsolutePathBuf(RootModel[str]):
    root: Annotated[
        str,
        Field(
            description='A path that is guaranteed to be absolute and normalized (though it is not guaranteed to be canonicalized or exist on the filesystem).\n\nIMPORTANT: When deserializing an `AbsolutePathBuf`, a base path must be set using [AbsolutePathBufGuard::new]. If no base path is set, the deserialization will fail unless the path being deserialized is already absolute.'
        ),
    ]


class AdditionalContextKind(StrEnum):
    untrusted = 'untrusted'
    application = 'application'


class AgentMessageDelivery(StrEnum):
    async_ = 'async'


class AgentMessageDisplay(BaseModel):
    """
    A presentation instruction for Chat to apply to this answer when recovering history.
    """

    action: Annotated[
        str,
        Field(
            description='Unknown actions must be left for the producing client to handle.'
        ),
    ]
    blockType: str | None = None
    checkTrustedContacts: bool | None = None
    cyberTrustedAccess: bool | None = None


class AgentMessageModeration(BaseModel):
    display: AgentMessageDisplay | None = None
    moderated: bool


class ApprovalsReviewer(StrEnum):
    """
    Configures who approval requests are routed to for review. Examples include sandbox escapes, blocked network access, MCP approval prompts, and ARC escalations. Defaults to `user`. `auto_review` uses a carefully prompted subagent to gather relevant context and apply a risk-based decision framework before approving or denying the request. The legacy value `guardian_subagent` is accepted for compatibility.
    """

    user = 'user'
    auto_review = 'auto_review'
    guardian_subagent = 'guardian_subagent'


class AskForApproval1(StrEnum):
    untrusted = 'untrusted'
    on_request = 'on-request'
    never = 'never'


class Granular(BaseModel):
    mcp_elicitations: bool
    request_permissions: bool | None = False
    rules: bool
    sandbox_approval: bool
    skill_approval: bool | None = False


class GranularAskForApproval(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    granular: Granular


class AskForApproval(RootModel[AskForApproval1 | GranularAskForApproval]):
    root: AskForApproval1 | GranularAskForApproval


class AsyncUserInputQuestion(BaseModel):
    model_config = ConfigDict(
        extra='forbid',
    )
    options: list[str] | None = None
    title: str


class ByteRange(BaseModel):
    end: Annotated[int, Field(ge=0)]
    start: Annotated[int, Field(ge=0)]


class EnvironmentCapabilityRootLocationType(StrEnum):
    environment = 'environment'


class EnvironmentCapabilityRootLocation(BaseModel):
    """
    A path owned by an execution environment.
    """

    environmentId: str
    path: Annotated[
        str,
        Field(description='Absolute path for the root in the selected environment.'),
    ]
    type: Annotated[
        EnvironmentCapabilityRootLocationType,
        Field(title='EnvironmentCapabilityRootLocationType'),
    ]


class CapabilityRootLocation(RootModel[EnvironmentCapabilityRootLocation]):
    root: Annotated[
        EnvironmentCapabilityRootLocation,
        Field(description='Location used to resolve a selected capability root.'),
    ]


class ClientInfo(BaseModel):
    name: str
    title: str | None = None
    version: str


class CodexErrorInfo1(StrEnum):
    """
    This translation layer make sure that we expose codex error code in camel case.

    When an upstream HTTP status is available (for example, from the Responses API or a provider), it is forwarded in `httpStatusCode` on the relevant `codexErrorInfo` variant.
    """

    contextWindowExceeded = 'contextWindowExceeded'
    sessionBudgetExceeded = 'sessionBudgetExceeded'
    usageLimitExceeded = 'usageLimitExceeded'
    rateLimitExceeded = 'rateLimitExceeded'
    flexUnavailable = 'flexUnavailable'
    serverOverloaded = 'serverOverloaded'
    modelNotFound = 'modelNotFound'
    policyCapacityUnavailable = 'policyCapacityUnavailable'
    cyberPolicy = 'cyberPolicy'
    misalignmentPolicyViolation = 'misalignmentPolicyViolation'
    tooManyDenials = 'tooManyDenials'
    internalServerError = 'internalServerError'
    unauthorized = 'unauthorized'
    badRequest = 'badRequest'
    threadRollbackFailed = 'threadRollbackFailed'
    sandboxError = 'sandboxError'
    other = 'other'


class CodexErrorInfo2(StrEnum):
    """
    The workspace's inference hook explicitly denied this request.
    """

    inferenceHookDenied = 'inferenceHookDenied'


class HttpConnectionFailed(BaseModel):
    httpStatusCode: Annotated[int | None, Field(ge=0)] = None


class HttpConnectionFailedCodexErrorInfo(BaseModel):
    """
    This translation layer make sure that we expose codex error code in camel case.

    When an upstream HTTP status is available (for example, from the Responses API or a provider), it is forwarded in `httpStatusCode` on the relevant `codexErrorInfo` variant.
    """

    model_config = ConfigDict(
        extra='forbid',
    )
    httpConnectionFailed: HttpConnectionFailed


class ResponseStreamConnectionFailed(BaseModel):
    httpStatusCode: Annotated[int | None, Field(ge=0)] = None


class ResponseStreamConnectionFailedCodexErrorInfo(BaseModel):
    """
    Failed to connect to the response SSE stream.
    """

    model_config = ConfigDict(
        extra='forbid',
    )
    responseStreamConnectionFailed: ResponseStreamConnectionFailed


class ResponseStreamDisconnected(BaseModel):
    httpStatusCode: Annotated[int | None, Field(ge=0)] = None


class ResponseStreamDisconnectedCodexErrorInfo(BaseModel):
    """
    The response SSE stream disconnected in the middle of a turn before completion.
    """

    model_config = ConfigDict(
        extra='forbid',
    )
    responseStreamDisconnected: ResponseStreamDisconnected


class ResponseTooManyFailedAttempts(BaseModel):
    httpStatusCode: Annotated[int | None, Field(ge=0)] = None


class ResponseTooManyFailedAttemptsCodexErrorInfo(BaseModel):
    """
    Reached the retry limit for responses.
    """

    model_config = ConfigDict(
        extra='forbid',
    )
    responseTooManyFailedAttempts: ResponseTooManyFailedAttempts


class CollabAgentStatus(StrEnum):
    pendingInit = 'pendingInit'
    running = 'running'
    interrupted = 'interrupted'
    completed = 'completed'
    errored = 'errored'
    shutdown = 'shutdown'
    notFound = 'notFound'


class CollabAgentTool(StrEnum):
    spawnAgent = 'spawnAgent'
    sendInput = 'sendInput'
    resumeAgent = 'resumeAgent'
    wait = 'wait'
    closeAgent = 'closeAgent'
    sendMessage = 'sendMessage'
    followupTask = 'followupTask'
    interruptAgent = 'interruptAgent'
    listAgents = 'listAgents'


class CollabAgentToolCallStatus(StrEnum):
    inProgress = 'inProgress'
    completed = 'completed'
    failed = 'failed'
    interrupted = 'interrupted'


class ReadCommandActionType(StrEnum):
    read = 'read'


class ListFilesCommandActionType(StrEnum):
    listFiles = 'listFiles'


class ListFilesCommandAction(BaseModel):
    command: str
    path: str | None = None
    type: Annotated[
        ListFilesCommandActionType, Field(title='ListFilesCommandActionType')
    ]


class SearchCommandActionType(StrEnum):
    search = 'search'


class SearchCommandAction(BaseModel):
    command: str
    path: str | None = None
    query: str | None = None
    type: Annotated[SearchCommandActionType, Field(title='SearchCommandActionType')]


class UnknownCommandActionType(StrEnum):
    unknown = 'unknown'


class UnknownCommandAction(BaseModel):
    command: str
    type: Annotated[UnknownCommandActionType, Field(title='UnknownCommandActionType')]


class CommandExecutionApprovalDecision1(StrEnum):
    """
    User approved the command.
    """

    accept = 'accept'


class CommandExecutionApprovalDecision2(StrEnum):
    """
    User approved the command and future prompts in the same session-scoped approval cache should run without prompting.
    """

    acceptForSession = 'acceptForSession'


class AcceptWithExecpolicyAmendment(BaseModel):
    execpolicy_amendment: list[str]


class AcceptWithExecpolicyAmendmentCommandExecutionApprovalDecision(BaseModel):
    """
    User approved the command, and wants to apply the proposed execpolicy amendment so future matching commands can run without prompting.
    """

    model_config = ConfigDict(
        extra='forbid',
    )
    acceptWithExecpolicyAmendment: AcceptWithExecpolicyAmendment


class CommandExecutionApprovalDecision3(StrEnum):
    """
    User denied the command. The agent will continue the turn.
    """

    decline = 'decline'


class CommandExecutionApprovalDecision4(StrEnum):
    """
    User denied the command. The turn will also be immediately interrupted.
    """

    cancel = 'cancel'


class CommandExecutionSource(StrEnum):
    agent = 'agent'
    userShell = 'userShell'
    unifiedExecStartup = 'unifiedExecStartup'
    unifiedExecInteraction = 'unifiedExecInteraction'


class CommandExecutionStatus(StrEnum):
    inProgress = 'inProgress'
    completed = 'completed'
    failed = 'failed'
    declined = 'declined'


class CreditsSnapshot(BaseModel):
    balance: str | None = None
    hasCredits: bool
    unlimited: bool


class CyberAccessProgram(StrEnum):
    """
    Requested cyber treatment for an OpenAI model turn. Authorization and model-tier restrictions remain server-owned.
    """

    standard = 'standard'
    daybreakBlue = 'daybreakBlue'
    daybreakRed = 'daybreakRed'


class InputTextDynamicToolCallOutputContentItemType(StrEnum):
    inputText = 'inputText'


class InputTextDynamicToolCallOutputContentItem(BaseModel):
    text: str
    type: Annotated[
        InputTextDynamicToolCallOutputContentItemType,
        Field(title='InputTextDynamicToolCallOutputContentItemType'),
    ]


class InputImageDynamicToolCallOutputContentItemType(StrEnum):
    inputImage = 'inputImage'


class InputImageDynamicToolCallOutputContentItem(BaseModel):
    imageUrl: str
    type: Annotated[
        InputImageDynamicToolCallOutputContentItemType,
        Field(title='InputImageDynamicToolCallOutputContentItemType'),
    ]


class InputAudioDynamicToolCallOutputContentItemType(StrEnum):
    inputAudio = 'inputAudio'


class InputAudioDynamicToolCallOutputContentItem(BaseModel):
    audioUrl: str
    type: Annotated[
        InputAudioDynamicToolCallOutputContentItemType,
        Field(title='InputAudioDynamicToolCallOutputContentItemType'),
    ]


class DynamicToolCallOutputContentItem(
    RootModel[
        InputTextDynamicToolCallOutputContentItem
        | InputImageDynamicToolCallOutputContentItem
        | InputAudioDynamicToolCallOutputContentItem
    ]
):
    root: (
        InputTextDynamicToolCallOutputContentItem
        | InputImageDynamicToolCallOutputContentItem
        | InputAudioDynamicToolCallOutputContentItem
    )


class DynamicToolCallParams(BaseModel):
    arguments: Any
    callId: str
    namespace: str | None = None
    threadId: str
    tool: str
    turnId: str


class DynamicToolCallResponse(BaseModel):
    contentItems: list[DynamicToolCallOutputContentItem]
    success: bool


class DynamicToolCallStatus(StrEnum):
    inProgress = 'inProgress'
    completed = 'completed'
    failed = 'failed'


class FunctionDynamicToolNamespaceToolType(StrEnum):
    function = 'function'


class FunctionDynamicToolNamespaceTool(BaseModel):
    deferLoading: bool | None = None
    description: str
    inputSchema: Any
    name: str
    type: Annotated[
        FunctionDynamicToolNamespaceToolType,
        Field(title='FunctionDynamicToolNamespaceToolType'),
    ]


class DynamicToolNamespaceTool(RootModel[FunctionDynamicToolNamespaceTool]):
    root: FunctionDynamicToolNamespaceTool


class FunctionDynamicToolSpecType(StrEnum):
    function = 'function'


class FunctionDynamicToolSpec(BaseModel):
    deferLoading: bool | None = None
    description: str
    inputSchema: Any
    name: str
    type: Annotated[
        FunctionDynamicToolSpecType, Field(title='FunctionDynamicToolSpecType')
    ]


class NamespaceDynamicToolSpecType(StrEnum):
    namespace = 'namespace'


class NamespaceDynamicToolSpec(BaseModel):
    description: str
    name: str
    tools: list[DynamicToolNamespaceTool]
    type: Annotated[
        NamespaceDynamicToolSpecType, Field(title='NamespaceDynamicToolSpecType')
    ]


class DynamicToolSpec(RootModel[FunctionDynamicToolSpec | NamespaceDynamicToolSpec]):
    root: FunctionDynamicToolSpec | NamespaceDynamicToolSpec


class FileChangeApprovalDecision1(StrEnum):
    """
    User approved the file changes.
    """

    accept = 'accept'


class FileChangeApprovalDecision2(StrEnum):
    """
    User approved the file changes and future changes to the same files should run without prompting.
    """

    acceptForSession = 'acceptForSession'


class FileChangeApprovalDecision3(StrEnum):
    """
    User denied the file changes. The agent will continue the turn.
    """

    decline = 'decline'


class FileChangeApprovalDecision4(StrEnum):
    """
    User denied the file changes. The turn will also be immediately interrupted.
    """

    cancel = 'cancel'


class FileChangeApprovalDecision(
    RootModel[
        FileChangeApprovalDecision1
        | FileChangeApprovalDecision2
        | FileChangeApprovalDecision3
        | FileChangeApprovalDecision4
    ]
):
    root: (
        FileChangeApprovalDecision1
        | FileChangeApprovalDecision2
        | FileChangeApprovalDecision3
        | FileChangeApprovalDecision4
    )


class FileChangeRequestApprovalResponse(BaseModel):
    decision: FileChangeApprovalDecision


class InputTextFunctionCallOutputContentItemType(StrEnum):
    input_text = 'input_text'


class InputTextFunctionCallOutputContentItem(BaseModel):
    """
    Responses API compatible content items that can be returned by a tool call. This is a subset of ContentItem with the types we support as function call outputs.
    """

    text: str
    type: Annotated[
        InputTextFunctionCallOutputContentItemType,
        Field(title='InputTextFunctionCallOutputContentItemType'),
    ]


class InputImageFunctionCallOutputContentItemType(StrEnum):
    input_image = 'input_image'


class InputAudioFunctionCallOutputContentItemType(StrEnum):
    input_audio = 'input_audio'


class AudioUrlFunctionCallOutputContentItem(BaseModel):
    """
    Inline audio data or an uploaded file loaded by the Responses API.
    """

    type: Annotated[
        InputAudioFunctionCallOutputContentItemType,
        Field(title='InputAudioFunctionCallOutputContentItemType'),
    ]
    audio_url: str


class FileIdFunctionCallOutputContentItem1(BaseModel):
    """
    Inline audio data or an uploaded file loaded by the Responses API.
    """

    type: Annotated[
        InputAudioFunctionCallOutputContentItemType,
        Field(title='InputAudioFunctionCallOutputContentItemType'),
    ]
    file_id: str


class InputAudioFunctionCallOutputContentItem(
    RootModel[
        AudioUrlFunctionCallOutputContentItem | FileIdFunctionCallOutputContentItem1
    ]
):
    root: Annotated[
        AudioUrlFunctionCallOutputContentItem | FileIdFunctionCallOutputContentItem1,
        Field(
            description='Inline audio data or an uploaded file loaded by the Responses API.',
            title='InputAudioFunctionCallOutputContentItem',
        ),
    ]


class EncryptedContentFunctionCallOutputContentItemType(StrEnum):
    encrypted_content = 'encrypted_content'


class EncryptedContentFunctionCallOutputContentItem(BaseModel):
    """
    Responses API compatible content items that can be returned by a tool call. This is a subset of ContentItem with the types we support as function call outputs.
    """

    encrypted_content: str
    type: Annotated[
        EncryptedContentFunctionCallOutputContentItemType,
        Field(title='EncryptedContentFunctionCallOutputContentItemType'),
    ]


class HookPromptFragment(BaseModel):
    hookRunId: str
    text: str


class ImageDetail(StrEnum):
    auto = 'auto'
    low = 'low'
    high = 'high'
    original = 'original'


class UsageLimitExceededImageGenerationFailureType(StrEnum):
    usageLimitExceeded = 'usageLimitExceeded'


class UsageLimitExceededImageGenerationFailure(BaseModel):
    limitId: str
    resetsAt: int | None = None
    type: Annotated[
        UsageLimitExceededImageGenerationFailureType,
        Field(title='UsageLimitExceededImageGenerationFailureType'),
    ]


class ImageGenerationFailure(RootModel[UsageLimitExceededImageGenerationFailure]):
    root: UsageLimitExceededImageGenerationFailure


class ImageGenerationInputImage(BaseModel):
    """
    A local image file successfully read for this exact image-generation request.
    """

    path: AbsolutePathBuf
    sha256: Annotated[
        str,
        Field(
            description='Lowercase SHA-256 of the file bytes read before image normalization.'
        ),
    ]


class InitializeCapabilities(BaseModel):
    """
    Client-declared capabilities negotiated during initialize.
    """

    experimentalApi: Annotated[
        bool | None,
        Field(description='Opt into receiving experimental API methods and fields.'),
    ] = False
    explicitGatewayOauth: Annotated[
        bool | None,
        Field(
            description="Use explicit gateway OAuth login instead of automatic browser authorization. Applies to this app-server's gateway runtime; later connections cannot undo it."
        ),
    ] = None
    extensions: Annotated[
        dict[str, Any] | None,
        Field(description='MCP extension settings declared by the app-server client.'),
    ] = None
    mcpServerOpenaiFormElicitation: Annotated[
        bool | None,
        Field(
            description='Legacy opt-in for the `openai/form` MCP extension.\n\nNew clients should declare `openai/form` in [`Self::extensions`].'
        ),
    ] = None
    optOutNotificationMethods: Annotated[
        list[str] | None,
        Field(
            description='Exact notification method names that should be suppressed for this connection (for example `thread/started`).'
        ),
    ] = None
    requestAttestation: Annotated[
        bool | None,
        Field(
            description='Opt into `attestation/generate` requests for upstream `x-oai-attestation`.'
        ),
    ] = False
    requiredHumanApproval: Annotated[
        bool | None,
        Field(
            description='Present `humanCommand` approvals to a person and return only a one-time decision. Requires `experimentalApi`. Pending requests can be replayed to compatible clients.'
        ),
    ] = None


class InitializeParams(BaseModel):
    capabilities: InitializeCapabilities | None = None
    clientInfo: ClientInfo


class LegacyAppPathString(RootModel[str]):
    root: str


class McpAppDisplayMode(StrEnum):
    inline = 'inline'
    fullscreen = 'fullscreen'


class McpAppUi(BaseModel):
    """
    UI resource and display preference for model invocations, captured from the tool descriptor.
    """

    preferredModelDisplayMode: McpAppDisplayMode
    resourceUri: str


class McpToolCallAppContext(BaseModel):
    actionName: str | None = None
    appName: str | None = None
    connectorId: str
    linkId: str | None = None
    resourceUri: str | None = None


class McpToolCallError(BaseModel):
    message: str


class McpToolCallResult(BaseModel):
    field_meta: Annotated[Any | None, Field(alias='_meta')] = None
    content: list[Any]
    structuredContent: Any | None = None


class McpToolCallStatus(StrEnum):
    inProgress = 'inProgress'
    completed = 'completed'
    failed = 'failed'


class MemoryCitationEntry(BaseModel):
    lineEnd: Annotated[int, Field(ge=0)]
    lineStart: Annotated[int, Field(ge=0)]
    note: str
    path: str


class MessagePhase1(StrEnum):
    """
    Mid-turn assistant text (for example preamble/progress narration).

    Additional tool calls or assistant output may follow before turn completion.
    """

    commentary = 'commentary'


class MessagePhase2(StrEnum):
    """
    Stable answer text that may be followed by more assistant output or tools.
    """

    partial_answer = 'partial_answer'


class MessagePhase3(StrEnum):
    """
    The assistant's declared terminal answer text for the current turn.
    """

    final_answer = 'final_answer'


class MessagePhase(RootModel[MessagePhase1 | MessagePhase2 | MessagePhase3]):
    root: Annotated[
        MessagePhase1 | MessagePhase2 | MessagePhase3,
        Field(
            description='Classifies assistant text as commentary, a partial answer, or a terminal answer.\n\nProviders do not emit this consistently, so callers must treat `None` as "phase unknown" and keep compatibility behavior for legacy models.'
        ),
    ]


class MisalignmentSteer(BaseModel):
    message: str


class ModeKind(StrEnum):
    """
    Initial collaboration mode to use when the TUI starts.
    """

    plan = 'plan'
    default = 'default'


class MultiAgentMode1(StrEnum):
    """
    Controls the effective multi-agent delegation instructions for a turn. `custom` means the configured mode hint defines the policy instead of a built-in policy.
    """

    explicitRequestOnly = 'explicitRequestOnly'
    proactive = 'proactive'


class CustomMultiAgentMode(BaseModel):
    """
    Controls the effective multi-agent delegation instructions for a turn. `custom` means the configured mode hint defines the policy instead of a built-in policy.
    """

    model_config = ConfigDict(
        extra='forbid',
    )
    custom: str


class MultiAgentMode(RootModel[MultiAgentMode1 | CustomMultiAgentMode]):
    root: Annotated[
        MultiAgentMode1 | CustomMultiAgentMode,
        Field(
            description='Controls the effective multi-agent delegation instructions for a turn. `custom` means the configured mode hint defines the policy instead of a built-in policy.'
        ),
    ]


class NetworkAccess(StrEnum):
    restricted = 'restricted'
    enabled = 'enabled'


class NetworkPolicyRuleAction(StrEnum):
    allow = 'allow'
    deny = 'deny'


class NonSteerableTurnKind(StrEnum):
    review = 'review'
    compact = 'compact'


class PatchApplyStatus(StrEnum):
    inProgress = 'inProgress'
    completed = 'completed'
    failed = 'failed'
    declined = 'declined'


class AddPatchChangeKindType(StrEnum):
    add = 'add'


class AddPatchChangeKind(BaseModel):
    type: Annotated[AddPatchChangeKindType, Field(title='AddPatchChangeKindType')]


class DeletePatchChangeKindType(StrEnum):
    delete = 'delete'


class DeletePatchChangeKind(BaseModel):
    type: Annotated[DeletePatchChangeKindType, Field(title='DeletePatchChangeKindType')]


class UpdatePatchChangeKindType(StrEnum):
    update = 'update'


class UpdatePatchChangeKind(BaseModel):
    move_path: str | None = None
    type: Annotated[UpdatePatchChangeKindType, Field(title='UpdatePatchChangeKindType')]


class PatchChangeKind(
    RootModel[AddPatchChangeKind | DeletePatchChangeKind | UpdatePatchChangeKind]
):
    root: AddPatchChangeKind | DeletePatchChangeKind | UpdatePatchChangeKind


class Personality(StrEnum):
    """
    Deprecated: `friendly` and `pragmatic` no longer select a style.
    """

    none = 'none'
    friendly = 'friendly'
    pragmatic = 'pragmatic'


class PlanType(StrEnum):
    free = 'free'
    go = 'go'
    plus = 'plus'
    pro = 'pro'
    prolite = 'prolite'
    promax = 'promax'
    team = 'team'
    self_serve_business_prolite = 'self_serve_business_prolite'
    self_serve_business_usage_based = 'self_serve_business_usage_based'
    business = 'business'
    ent26 = 'ent26'
    enterprise_cbp_automation = 'enterprise_cbp_automation'
    enterprise_cbp_usage_based = 'enterprise_cbp_usage_based'
    enterprise = 'enterprise'
    edu = 'edu'
    edu_plus = 'edu_plus'
    edu_pro = 'edu_pro'
    sci = 'sci'
    sci_plus = 'sci_plus'
    unknown = 'unknown'


class RateLimitReachedType(StrEnum):
    rate_limit_reached = 'rate_limit_reached'
    workspace_owner_credits_depleted = 'workspace_owner_credits_depleted'
    workspace_member_credits_depleted = 'workspace_member_credits_depleted'
    workspace_owner_usage_limit_reached = 'workspace_owner_usage_limit_reached'
    workspace_member_usage_limit_reached = 'workspace_member_usage_limit_reached'


class RateLimitWindow(BaseModel):
    resetsAt: int | None = None
    usedPercent: int
    windowDurationMins: int | None = None


class ReasoningEffort(RootModel[str]):
    root: Annotated[
        str,
        Field(
            description='A non-empty reasoning effort value advertised by the model.',
            min_length=1,
        ),
    ]


class ReasoningSummary1(StrEnum):
    """
    A summary of the reasoning performed by the model. This can be useful for debugging and understanding the model's reasoning process. See https://platform.openai.com/docs/guides/reasoning?api-mode=responses#reasoning-summaries
    """

    auto = 'auto'
    concise = 'concise'
    detailed = 'detailed'


class ReasoningSummary2(StrEnum):
    """
    Option to disable reasoning summaries.
    """

    none = 'none'


class ReasoningSummary(RootModel[ReasoningSummary1 | ReasoningSummary2]):
    root: Annotated[
        ReasoningSummary1 | ReasoningSummary2,
        Field(
            description="A summary of the reasoning performed by the model. This can be useful for debugging and understanding the model's reasoning process. See https://platform.openai.com/docs/guides/reasoning?api-mode=responses#reasoning-summaries"
        ),
    ]


class ReviewDecision1(StrEnum):
    """
    User has approved this command and the agent should execute it.
    """

    approved = 'approved'


class ApprovedExecpolicyAmendment(BaseModel):
    proposed_execpolicy_amendment: list[str]


class ApprovedExecpolicyAmendmentReviewDecision(BaseModel):
    """
    User has approved this command and wants to apply the proposed execpolicy amendment so future matching commands are permitted.
    """

    model_config = ConfigDict(
        extra='forbid',
    )
    approved_execpolicy_amendment: ApprovedExecpolicyAmendment


class ReviewDecision2(StrEnum):
    """
    User has approved this request and wants future prompts in the same session-scoped approval cache to be automatically approved for the remainder of the session.
    """

    approved_for_session = 'approved_for_session'


class ReviewDecision3(StrEnum):
    """
    User has approved this MCP tool call and wants to amend its policy so matching future calls are automatically approved across sessions.
    """

    approved_mcp_policy_amendment = 'approved_mcp_policy_amendment'


class Denied(BaseModel):
    rejection: str


class DeniedReviewDecision(BaseModel):
    """
    User has denied this command and the agent should not execute it, but it should continue the session and try something else.
    """

    model_config = ConfigDict(
        extra='forbid',
    )
    denied: Denied


class ReviewDecision4(StrEnum):
    """
    Automatic approval review timed out before reaching a decision.
    """

    timed_out = 'timed_out'


class ReviewDecision5(StrEnum):
    """
    User has denied this command and the agent should not do anything until the user's next command.
    """

    abort = 'abort'


class SandboxMode(StrEnum):
    read_only = 'read-only'
    workspace_write = 'workspace-write'
    danger_full_access = 'danger-full-access'


class DangerFullAccessSandboxPolicyType(StrEnum):
    dangerFullAccess = 'dangerFullAccess'


class DangerFullAccessSandboxPolicy(BaseModel):
    type: Annotated[
        DangerFullAccessSandboxPolicyType,
        Field(title='DangerFullAccessSandboxPolicyType'),
    ]


class ReadOnlySandboxPolicyType(StrEnum):
    readOnly = 'readOnly'


class ReadOnlySandboxPolicy(BaseModel):
    networkAccess: bool | None = False
    type: Annotated[ReadOnlySandboxPolicyType, Field(title='ReadOnlySandboxPolicyType')]


class ExternalSandboxSandboxPolicyType(StrEnum):
    externalSandbox = 'externalSandbox'


class ExternalSandboxSandboxPolicy(BaseModel):
    networkAccess: NetworkAccess | None = NetworkAccess.restricted
    type: Annotated[
        ExternalSandboxSandboxPolicyType,
        Field(title='ExternalSandboxSandboxPolicyType'),
    ]


class WorkspaceWriteSandboxPolicyType(StrEnum):
    workspaceWrite = 'workspaceWrite'


class WorkspaceWriteSandboxPolicy(BaseModel):
    excludeSlashTmp: bool | None = False
    excludeTmpdirEnvVar: bool | None = False
    networkAccess: bool | None = False
    type: Annotated[
        WorkspaceWriteSandboxPolicyType, Field(title='WorkspaceWriteSandboxPolicyType')
    ]
    writableRoots: Annotated[
        list[AbsolutePathBuf] | None, Field(validate_default=True)
    ] = []


class SandboxPolicy(
    RootModel[
        DangerFullAccessSandboxPolicy
        | ReadOnlySandboxPolicy
        | ExternalSandboxSandboxPolicy
        | WorkspaceWriteSandboxPolicy
    ]
):
    root: (
        DangerFullAccessSandboxPolicy
        | ReadOnlySandboxPolicy
        | ExternalSandboxSandboxPolicy
        | WorkspaceWriteSandboxPolicy
    )


class SelectedCapabilityRoot(BaseModel):
    """
    A user-selected root that can expose one or more runtime capabilities.
    """

    id: Annotated[
        str,
        Field(
            description='Stable identifier supplied by the capability selection platform.'
        ),
    ]
    location: Annotated[
        CapabilityRootLocation,
        Field(description='Where the selected root can be resolved.'),
    ]


class Settings(BaseModel):
    """
    Settings for a collaboration mode.
    """

    developer_instructions: str | None = None
    model: str
    reasoning_effort: ReasoningEffort | None = None


class SpendControlLimitSnapshot(BaseModel):
    limit: str
    remainingPercent: int
    resetsAt: int
    used: str


class SubAgentActivityKind(StrEnum):
    started = 'started'
    interacted = 'interacted'
    interrupted = 'interrupted'
    completed = 'completed'


class TextElement(BaseModel):
    byteRange: Annotated[
        ByteRange,
        Field(
            description='Byte range in the parent `text` buffer that this element occupies.'
        ),
    ]
    placeholder: Annotated[
        str | None,
        Field(
            description='Optional human-readable placeholder for the element, displayed in the UI.'
        ),
    ] = None


class ThreadHistoryMode(StrEnum):
    legacy = 'legacy'
    paginated = 'paginated'


class UserMessageThreadItemType(StrEnum):
    userMessage = 'userMessage'


class HookPromptThreadItemType(StrEnum):
    hookPrompt = 'hookPrompt'


class HookPromptThreadItem(BaseModel):
    """
    A thread item and its recorded lifecycle times. The payload stays flat on the wire.
    """

    completedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item completed, if recorded.'
        ),
    ] = None
    startedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item started, if recorded.'
        ),
    ] = None
    fragments: list[HookPromptFragment]
    id: str
    type: Annotated[HookPromptThreadItemType, Field(title='HookPromptThreadItemType')]


class AgentMessageThreadItemType(StrEnum):
    agentMessage = 'agentMessage'


class FunctionCallOutputThreadItemType(StrEnum):
    functionCallOutput = 'functionCallOutput'


class PlanThreadItemType(StrEnum):
    plan = 'plan'


class PlanThreadItem(BaseModel):
    """
    EXPERIMENTAL - proposed plan item content. The completed plan item is authoritative and may not match the concatenation of `PlanDelta` text.
    """

    completedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item completed, if recorded.'
        ),
    ] = None
    startedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item started, if recorded.'
        ),
    ] = None
    id: str
    text: str
    type: Annotated[PlanThreadItemType, Field(title='PlanThreadItemType')]


class ReasoningThreadItemType(StrEnum):
    reasoning = 'reasoning'


class ReasoningThreadItem(BaseModel):
    """
    A thread item and its recorded lifecycle times. The payload stays flat on the wire.
    """

    completedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item completed, if recorded.'
        ),
    ] = None
    startedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item started, if recorded.'
        ),
    ] = None
    content: list[str] | None = []
    id: str
    summary: list[str] | None = []
    type: Annotated[ReasoningThreadItemType, Field(title='ReasoningThreadItemType')]


class CommandExecutionThreadItemType(StrEnum):
    commandExecution = 'commandExecution'


class FileChangeThreadItemType(StrEnum):
    fileChange = 'fileChange'


class McpToolCallThreadItemType(StrEnum):
    mcpToolCall = 'mcpToolCall'


class McpToolCallThreadItem(BaseModel):
    """
    A thread item and its recorded lifecycle times. The payload stays flat on the wire.
    """

    completedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item completed, if recorded.'
        ),
    ] = None
    startedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item started, if recorded.'
        ),
    ] = None
    appContext: McpToolCallAppContext | None = None
    arguments: Any
    durationMs: Annotated[
        int | None,
        Field(description='The duration of the MCP tool call in milliseconds.'),
    ] = None
    error: McpToolCallError | None = None
    id: str
    mcpAppResourceUri: Annotated[
        str | None,
        Field(
            description='Legacy compatibility field; prefer `mcpAppUi.resourceUri` when available.'
        ),
    ] = None
    mcpAppUi: Annotated[
        McpAppUi | None,
        Field(
            description='Presentation captured from the invoked descriptor; absent in older history.'
        ),
    ] = None
    pluginId: str | None = None
    readOnlyHint: bool | None = None
    result: McpToolCallResult | None = None
    server: str
    status: McpToolCallStatus
    tool: str
    type: Annotated[McpToolCallThreadItemType, Field(title='McpToolCallThreadItemType')]


class DynamicToolCallThreadItemType(StrEnum):
    dynamicToolCall = 'dynamicToolCall'


class DynamicToolCallThreadItem(BaseModel):
    """
    A thread item and its recorded lifecycle times. The payload stays flat on the wire.
    """

    completedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item completed, if recorded.'
        ),
    ] = None
    startedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item started, if recorded.'
        ),
    ] = None
    arguments: Any
    contentItems: list[DynamicToolCallOutputContentItem] | None = None
    durationMs: Annotated[
        int | None,
        Field(description='The duration of the dynamic tool call in milliseconds.'),
    ] = None
    id: str
    namespace: str | None = None
    status: DynamicToolCallStatus
    success: bool | None = None
    tool: str
    type: Annotated[
        DynamicToolCallThreadItemType, Field(title='DynamicToolCallThreadItemType')
    ]


class CollabAgentToolCallThreadItemType(StrEnum):
    collabAgentToolCall = 'collabAgentToolCall'


class SubAgentActivityThreadItemType(StrEnum):
    subAgentActivity = 'subAgentActivity'


class SubAgentActivityThreadItem(BaseModel):
    """
    A thread item and its recorded lifecycle times. The payload stays flat on the wire.
    """

    completedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item completed, if recorded.'
        ),
    ] = None
    startedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item started, if recorded.'
        ),
    ] = None
    agentPath: str
    agentThreadId: str
    id: str
    kind: SubAgentActivityKind
    model: Annotated[
        str | None,
        Field(
            description='Resolved model at sub-agent creation; absent from older records and other activities.'
        ),
    ] = None
    reasoningEffort: Annotated[
        ReasoningEffort | None,
        Field(
            description='Resolved reasoning effort at sub-agent creation, when known.'
        ),
    ] = None
    type: Annotated[
        SubAgentActivityThreadItemType, Field(title='SubAgentActivityThreadItemType')
    ]


class WebSearchThreadItemType(StrEnum):
    webSearch = 'webSearch'


class ImageViewThreadItemType(StrEnum):
    imageView = 'imageView'


class ImageViewThreadItem(BaseModel):
    """
    A thread item and its recorded lifecycle times. The payload stays flat on the wire.
    """

    completedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item completed, if recorded.'
        ),
    ] = None
    startedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item started, if recorded.'
        ),
    ] = None
    id: str
    path: LegacyAppPathString
    type: Annotated[ImageViewThreadItemType, Field(title='ImageViewThreadItemType')]


class SleepThreadItemType(StrEnum):
    sleep = 'sleep'


class SleepThreadItem(BaseModel):
    """
    Display item emitted by the interruptible `clock.sleep` tool.
    """

    completedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item completed, if recorded.'
        ),
    ] = None
    startedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item started, if recorded.'
        ),
    ] = None
    durationMs: Annotated[int, Field(ge=0)]
    id: str
    type: Annotated[SleepThreadItemType, Field(title='SleepThreadItemType')]


class ImageGenerationThreadItemType(StrEnum):
    imageGeneration = 'imageGeneration'


class FileIdThreadItem(BaseModel):
    """
    Either inline generated-image data or its durable attachment-store identity.

    `File` must remain first so rollouts written during the migration, which contain both an empty `result` and a `fileId`, retain the file reference when deserialized.
    """

    completedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item completed, if recorded.'
        ),
    ] = None
    startedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item started, if recorded.'
        ),
    ] = None
    failure: ImageGenerationFailure | None = None
    generationId: Annotated[
        str | None,
        Field(
            description='Image generation identifier for the generated image, when provided by the image backend.'
        ),
    ] = None
    id: str
    inputImages: Annotated[
        list[ImageGenerationInputImage] | None,
        Field(
            description='Observed local inputs for a completed generation, absent on older items.'
        ),
    ] = None
    revisedPrompt: str | None = None
    savedPath: AbsolutePathBuf | None = None
    status: str
    transparentBackground: bool | None = None
    type: Annotated[
        ImageGenerationThreadItemType, Field(title='ImageGenerationThreadItemType')
    ]
    fileId: str


class ResultThreadItem(BaseModel):
    """
    Either inline generated-image data or its durable attachment-store identity.

    `File` must remain first so rollouts written during the migration, which contain both an empty `result` and a `fileId`, retain the file reference when deserialized.
    """

    completedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item completed, if recorded.'
        ),
    ] = None
    startedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item started, if recorded.'
        ),
    ] = None
    failure: ImageGenerationFailure | None = None
    generationId: Annotated[
        str | None,
        Field(
            description='Image generation identifier for the generated image, when provided by the image backend.'
        ),
    ] = None
    id: str
    inputImages: Annotated[
        list[ImageGenerationInputImage] | None,
        Field(
            description='Observed local inputs for a completed generation, absent on older items.'
        ),
    ] = None
    revisedPrompt: str | None = None
    savedPath: AbsolutePathBuf | None = None
    status: str
    transparentBackground: bool | None = None
    type: Annotated[
        ImageGenerationThreadItemType, Field(title='ImageGenerationThreadItemType')
    ]
    result: str


class ImageGenerationThreadItem(RootModel[FileIdThreadItem | ResultThreadItem]):
    root: Annotated[
        FileIdThreadItem | ResultThreadItem,
        Field(
            description='Either inline generated-image data or its durable attachment-store identity.\n\n`File` must remain first so rollouts written during the migration, which contain both an empty `result` and a `fileId`, retain the file reference when deserialized.',
            title='ImageGenerationThreadItem',
        ),
    ]


class EnteredReviewModeThreadItemType(StrEnum):
    enteredReviewMode = 'enteredReviewMode'


class EnteredReviewModeThreadItem(BaseModel):
    """
    A thread item and its recorded lifecycle times. The payload stays flat on the wire.
    """

    completedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item completed, if recorded.'
        ),
    ] = None
    startedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item started, if recorded.'
        ),
    ] = None
    id: str
    review: str
    type: Annotated[
        EnteredReviewModeThreadItemType, Field(title='EnteredReviewModeThreadItemType')
    ]


class ExitedReviewModeThreadItemType(StrEnum):
    exitedReviewMode = 'exitedReviewMode'


class ExitedReviewModeThreadItem(BaseModel):
    """
    A thread item and its recorded lifecycle times. The payload stays flat on the wire.
    """

    completedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item completed, if recorded.'
        ),
    ] = None
    startedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item started, if recorded.'
        ),
    ] = None
    id: str
    review: str
    type: Annotated[
        ExitedReviewModeThreadItemType, Field(title='ExitedReviewModeThreadItemType')
    ]


class ContextCompactionThreadItemType(StrEnum):
    contextCompaction = 'contextCompaction'


class ContextCompactionThreadItem(BaseModel):
    """
    A thread item and its recorded lifecycle times. The payload stays flat on the wire.
    """

    completedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item completed, if recorded.'
        ),
    ] = None
    startedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item started, if recorded.'
        ),
    ] = None
    id: str
    type: Annotated[
        ContextCompactionThreadItemType, Field(title='ContextCompactionThreadItemType')
    ]


class ThreadSource(RootModel[str]):
    root: str


class ThreadStartSource(StrEnum):
    startup = 'startup'
    clear = 'clear'


class TokenUsageBreakdown(BaseModel):
    cacheWriteInputTokens: int | None = 0
    cachedInputTokens: int
    inputTokens: int
    outputTokens: int
    reasoningOutputTokens: int
    totalTokens: int


class ToolRequestUserInputOption(BaseModel):
    """
    EXPERIMENTAL. Defines a single selectable option for request_user_input.
    """

    description: str
    label: str


class ToolRequestUserInputQuestion(BaseModel):
    """
    EXPERIMENTAL. Represents one request_user_input question and its required options.
    """

    header: str
    id: str
    isOther: bool | None = False
    isSecret: bool | None = False
    options: list[ToolRequestUserInputOption] | None = None
    question: str


class TurnEnvironmentParams(BaseModel):
    cwd: LegacyAppPathString
    environmentId: str
    runtimeWorkspaceRoots: Annotated[
        list[LegacyAppPathString] | None,
        Field(
            description='Environment-native runtime workspace roots. Omitted defaults to `cwd`.'
        ),
    ] = None


class TurnItemsView1(StrEnum):
    """
    `items` was not loaded for this turn. The field is intentionally empty.
    """

    notLoaded = 'notLoaded'


class TurnItemsView2(StrEnum):
    """
    `items` contains only a display summary for this turn.
    """

    summary = 'summary'


class TurnItemsView3(StrEnum):
    """
    `items` contains every ThreadItem available from persisted app-server history for this turn.
    """

    full = 'full'


class TurnItemsView(RootModel[TurnItemsView1 | TurnItemsView2 | TurnItemsView3]):
    root: TurnItemsView1 | TurnItemsView2 | TurnItemsView3


class TurnStatus(StrEnum):
    completed = 'completed'
    interrupted = 'interrupted'
    failed = 'failed'
    inProgress = 'inProgress'


class TextUserInputType(StrEnum):
    text = 'text'


class TextUserInput(BaseModel):
    text: str
    text_elements: Annotated[
        list[TextElement] | None,
        Field(
            description='UI-defined spans within `text` used to render or persist special elements.',
            validate_default=True,
        ),
    ] = []
    type: Annotated[TextUserInputType, Field(title='TextUserInputType')]


class ImageUserInputType(StrEnum):
    image = 'image'


class UrlUserInput(BaseModel):
    detail: ImageDetail | None = None
    type: Annotated[ImageUserInputType, Field(title='ImageUserInputType')]
    url: str


class FileIdUserInput(BaseModel):
    detail: ImageDetail | None = None
    type: Annotated[ImageUserInputType, Field(title='ImageUserInputType')]
    fileId: str


class ImageUserInput(RootModel[UrlUserInput | FileIdUserInput]):
    root: Annotated[UrlUserInput | FileIdUserInput, Field(title='ImageUserInput')]


class LocalImageUserInputType(StrEnum):
    localImage = 'localImage'


class LocalImageUserInput(BaseModel):
    detail: ImageDetail | None = None
    path: str
    type: Annotated[LocalImageUserInputType, Field(title='LocalImageUserInputType')]


class AudioUserInputType(StrEnum):
    audio = 'audio'


class UrlUserInput1(BaseModel):
    type: Annotated[AudioUserInputType, Field(title='AudioUserInputType')]
    url: str


class FileIdUserInput1(BaseModel):
    type: Annotated[AudioUserInputType, Field(title='AudioUserInputType')]
    fileId: str


class AudioUserInput(RootModel[UrlUserInput1 | FileIdUserInput1]):
    root: Annotated[UrlUserInput1 | FileIdUserInput1, Field(title='AudioUserInput')]


class LocalAudioUserInputType(StrEnum):
    localAudio = 'localAudio'


class LocalAudioUserInput(BaseModel):
    path: str
    type: Annotated[LocalAudioUserInputType, Field(title='LocalAudioUserInputType')]


class SkillUserInputType(StrEnum):
    skill = 'skill'


class SkillUserInput(BaseModel):
    name: str
    path: str
    type: Annotated[SkillUserInputType, Field(title='SkillUserInputType')]


class MentionUserInputType(StrEnum):
    mention = 'mention'


class MentionUserInput(BaseModel):
    name: str
    path: str
    type: Annotated[MentionUserInputType, Field(title='MentionUserInputType')]


class UserInput(
    RootModel[
        TextUserInput
        | ImageUserInput
        | LocalImageUserInput
        | AudioUserInput
        | LocalAudioUserInput
        | SkillUserInput
        | MentionUserInput
    ]
):
    root: (
        TextUserInput
        | ImageUserInput
        | LocalImageUserInput
        | AudioUserInput
        | LocalAudioUserInput
        | SkillUserInput
        | MentionUserInput
    )


class SearchWebSearchActionType(StrEnum):
    search = 'search'


class SearchWebSearchAction(BaseModel):
    queries: list[str] | None = None
    query: str | None = None
    type: Annotated[SearchWebSearchActionType, Field(title='SearchWebSearchActionType')]


class OpenPageWebSearchActionType(StrEnum):
    openPage = 'openPage'


class OpenPageWebSearchAction(BaseModel):
    type: Annotated[
        OpenPageWebSearchActionType, Field(title='OpenPageWebSearchActionType')
    ]
    url: str | None = None


class FindInPageWebSearchActionType(StrEnum):
    findInPage = 'findInPage'


class FindInPageWebSearchAction(BaseModel):
    pattern: str | None = None
    type: Annotated[
        FindInPageWebSearchActionType, Field(title='FindInPageWebSearchActionType')
    ]
    url: str | None = None


class OtherWebSearchActionType(StrEnum):
    other = 'other'


class OtherWebSearchAction(BaseModel):
    type: Annotated[OtherWebSearchActionType, Field(title='OtherWebSearchActionType')]


class WebSearchAction(
    RootModel[
        SearchWebSearchAction
        | OpenPageWebSearchAction
        | FindInPageWebSearchAction
        | OtherWebSearchAction
    ]
):
    root: (
        SearchWebSearchAction
        | OpenPageWebSearchAction
        | FindInPageWebSearchAction
        | OtherWebSearchAction
    )


class AdditionalContextEntry(BaseModel):
    kind: AdditionalContextKind
    name: Annotated[
        str | None,
        Field(
            description='Optional name for untrusted context, used to label its tool output.'
        ),
    ] = None
    value: str


class ActiveTurnNotSteerable(BaseModel):
    turnKind: NonSteerableTurnKind


class ActiveTurnNotSteerableCodexErrorInfo(BaseModel):
    """
    Returned when `turn/start` or `turn/steer` is submitted while the current active turn cannot accept same-turn steering, for example `/review` or manual `/compact`.
    """

    model_config = ConfigDict(
        extra='forbid',
    )
    activeTurnNotSteerable: ActiveTurnNotSteerable


class CodexErrorInfo(
    RootModel[
        CodexErrorInfo1
        | CodexErrorInfo2
        | HttpConnectionFailedCodexErrorInfo
        | ResponseStreamConnectionFailedCodexErrorInfo
        | ResponseStreamDisconnectedCodexErrorInfo
        | ResponseTooManyFailedAttemptsCodexErrorInfo
        | ActiveTurnNotSteerableCodexErrorInfo
        | str
        | dict[str, Any]
    ]
):
    root: Annotated[
        CodexErrorInfo1
        | CodexErrorInfo2
        | HttpConnectionFailedCodexErrorInfo
        | ResponseStreamConnectionFailedCodexErrorInfo
        | ResponseStreamDisconnectedCodexErrorInfo
        | ResponseTooManyFailedAttemptsCodexErrorInfo
        | ActiveTurnNotSteerableCodexErrorInfo
        | str
        | dict[str, Any],
        Field(
            description='This translation layer make sure that we expose codex error code in camel case.\n\nWhen an upstream HTTP status is available (for example, from the Responses API or a provider), it is forwarded in `httpStatusCode` on the relevant `codexErrorInfo` variant.'
        ),
    ]


class CollabAgentState(BaseModel):
    message: str | None = None
    status: CollabAgentStatus


class CollaborationMode(BaseModel):
    """
    Collaboration mode for a Codex session.
    """

    mode: ModeKind
    settings: Settings


class ReadCommandAction(BaseModel):
    command: str
    name: str
    path: LegacyAppPathString
    type: Annotated[ReadCommandActionType, Field(title='ReadCommandActionType')]


class CommandAction(
    RootModel[
        ReadCommandAction
        | ListFilesCommandAction
        | SearchCommandAction
        | UnknownCommandAction
    ]
):
    root: (
        ReadCommandAction
        | ListFilesCommandAction
        | SearchCommandAction
        | UnknownCommandAction
    )


class FileUpdateChange(BaseModel):
    diff: str
    kind: PatchChangeKind
    path: str


class ImageUrlFunctionCallOutputContentItem(BaseModel):
    """
    Responses API compatible content items that can be returned by a tool call. This is a subset of ContentItem with the types we support as function call outputs.
    """

    detail: ImageDetail | None = None
    type: Annotated[
        InputImageFunctionCallOutputContentItemType,
        Field(title='InputImageFunctionCallOutputContentItemType'),
    ]
    image_url: str


class FileIdFunctionCallOutputContentItem(BaseModel):
    """
    Responses API compatible content items that can be returned by a tool call. This is a subset of ContentItem with the types we support as function call outputs.
    """

    detail: ImageDetail | None = None
    type: Annotated[
        InputImageFunctionCallOutputContentItemType,
        Field(title='InputImageFunctionCallOutputContentItemType'),
    ]
    file_id: str


class InputImageFunctionCallOutputContentItem(
    RootModel[
        ImageUrlFunctionCallOutputContentItem | FileIdFunctionCallOutputContentItem
    ]
):
    root: Annotated[
        ImageUrlFunctionCallOutputContentItem | FileIdFunctionCallOutputContentItem,
        Field(
            description='Responses API compatible content items that can be returned by a tool call. This is a subset of ContentItem with the types we support as function call outputs.',
            title='InputImageFunctionCallOutputContentItem',
        ),
    ]


class FunctionCallOutputContentItem(
    RootModel[
        InputTextFunctionCallOutputContentItem
        | InputImageFunctionCallOutputContentItem
        | InputAudioFunctionCallOutputContentItem
        | EncryptedContentFunctionCallOutputContentItem
    ]
):
    root: Annotated[
        InputTextFunctionCallOutputContentItem
        | InputImageFunctionCallOutputContentItem
        | InputAudioFunctionCallOutputContentItem
        | EncryptedContentFunctionCallOutputContentItem,
        Field(
            description='Responses API compatible content items that can be returned by a tool call. This is a subset of ContentItem with the types we support as function call outputs.'
        ),
    ]


class MemoryCitation(BaseModel):
    entries: list[MemoryCitationEntry]
    threadIds: list[str]


class MisalignmentErrorDetails(BaseModel):
    detailedExplanation: Annotated[
        str | None,
        Field(
            description='A substantive localized explanation is required before offering continuation.'
        ),
    ] = None
    errorType: Annotated[
        str | None,
        Field(
            description='Open-ended classification; clients must accept categories added by Responses.'
        ),
    ] = None
    reviewTarget: Annotated[
        str | None,
        Field(
            description='Opaque server-issued block target. Presence alone does not enable target-based continuation.'
        ),
    ] = None
    steer: Annotated[
        MisalignmentSteer | None,
        Field(
            description="Instruction to submit as the next turn's user input if continuation is confirmed."
        ),
    ] = None


class NetworkPolicyAmendment(BaseModel):
    action: NetworkPolicyRuleAction
    host: str


class RateLimitSnapshot(BaseModel):
    credits: CreditsSnapshot | None = None
    individualLimit: SpendControlLimitSnapshot | None = None
    limitId: str | None = None
    limitName: str | None = None
    normalModelSlug: Annotated[
        str | None,
        Field(
            description='Normal model whose display name and reasoning options describe this quota alias.'
        ),
    ] = None
    planType: PlanType | None = None
    primary: RateLimitWindow | None = None
    rateLimitReachedType: RateLimitReachedType | None = None
    secondary: RateLimitWindow | None = None
    spendControlReached: Annotated[
        bool | None,
        Field(
            description='Backend-reported spend-control state. `None` is unavailable, not a sparse-update recovery.'
        ),
    ] = None


class NetworkPolicyAmendment1(BaseModel):
    network_policy_amendment: NetworkPolicyAmendment


class NetworkPolicyAmendmentReviewDecision(BaseModel):
    """
    User chose to persist a network policy rule (allow/deny) for future requests to the same host.
    """

    model_config = ConfigDict(
        extra='forbid',
    )
    network_policy_amendment: NetworkPolicyAmendment1


class ReviewDecision(
    RootModel[
        ReviewDecision1
        | ApprovedExecpolicyAmendmentReviewDecision
        | ReviewDecision2
        | ReviewDecision3
        | NetworkPolicyAmendmentReviewDecision
        | DeniedReviewDecision
        | ReviewDecision4
        | ReviewDecision5
    ]
):
    root: Annotated[
        ReviewDecision1
        | ApprovedExecpolicyAmendmentReviewDecision
        | ReviewDecision2
        | ReviewDecision3
        | NetworkPolicyAmendmentReviewDecision
        | DeniedReviewDecision
        | ReviewDecision4
        | ReviewDecision5,
        Field(description="User's decision in response to an ExecApprovalRequest."),
    ]


class UserMessageThreadItem(BaseModel):
    """
    A thread item and its recorded lifecycle times. The payload stays flat on the wire.
    """

    completedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item completed, if recorded.'
        ),
    ] = None
    startedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item started, if recorded.'
        ),
    ] = None
    clientId: str | None = None
    content: list[UserInput]
    id: str
    type: Annotated[UserMessageThreadItemType, Field(title='UserMessageThreadItemType')]


class AgentMessageThreadItem(BaseModel):
    """
    A thread item and its recorded lifecycle times. The payload stays flat on the wire.
    """

    completedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item completed, if recorded.'
        ),
    ] = None
    startedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item started, if recorded.'
        ),
    ] = None
    delivery: AgentMessageDelivery | None = None
    id: str
    memoryCitation: MemoryCitation | None = None
    moderation: AgentMessageModeration | None = None
    phase: MessagePhase | None = None
    questions: list[AsyncUserInputQuestion] | None = None
    text: str
    type: Annotated[
        AgentMessageThreadItemType, Field(title='AgentMessageThreadItemType')
    ]


class CommandExecutionThreadItem(BaseModel):
    """
    A thread item and its recorded lifecycle times. The payload stays flat on the wire.
    """

    completedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item completed, if recorded.'
        ),
    ] = None
    startedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item started, if recorded.'
        ),
    ] = None
    aggregatedOutput: Annotated[
        str | None,
        Field(description="The command's output, aggregated from stdout and stderr."),
    ] = None
    command: Annotated[str, Field(description='The command to be executed.')]
    commandActions: Annotated[
        list[CommandAction],
        Field(
            description='A best-effort parsing of the command to understand the action(s) it will perform. This returns a list of CommandAction objects because a single shell command may be composed of many commands piped together.'
        ),
    ]
    cwd: Annotated[
        LegacyAppPathString, Field(description="The command's working directory.")
    ]
    durationMs: Annotated[
        int | None,
        Field(description='The duration of the command execution in milliseconds.'),
    ] = None
    exitCode: Annotated[int | None, Field(description="The command's exit code.")] = (
        None
    )
    id: str
    pluginId: Annotated[
        str | None,
        Field(
            description='Trusted first-party plugin id when this command resolves to one plugin script.'
        ),
    ] = None
    processId: Annotated[
        str | None,
        Field(
            description='Identifier for the underlying PTY process (when available).'
        ),
    ] = None
    scriptPath: Annotated[
        str | None,
        Field(
            description='Safe plugin-relative path when this command resolves to one plugin script.'
        ),
    ] = None
    source: CommandExecutionSource | None = CommandExecutionSource.agent
    status: CommandExecutionStatus
    type: Annotated[
        CommandExecutionThreadItemType, Field(title='CommandExecutionThreadItemType')
    ]


class FileChangeThreadItem(BaseModel):
    """
    A thread item and its recorded lifecycle times. The payload stays flat on the wire.
    """

    completedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item completed, if recorded.'
        ),
    ] = None
    startedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item started, if recorded.'
        ),
    ] = None
    changes: list[FileUpdateChange]
    id: str
    status: PatchApplyStatus
    type: Annotated[FileChangeThreadItemType, Field(title='FileChangeThreadItemType')]


class CollabAgentToolCallThreadItem(BaseModel):
    """
    A thread item and its recorded lifecycle times. The payload stays flat on the wire.
    """

    completedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item completed, if recorded.'
        ),
    ] = None
    startedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item started, if recorded.'
        ),
    ] = None
    agentsStates: Annotated[
        dict[str, CollabAgentState],
        Field(description='Last known status of the target agents, when available.'),
    ]
    id: Annotated[
        str, Field(description='Unique identifier for this collab tool call.')
    ]
    model: Annotated[
        str | None,
        Field(description='Model requested for the spawned agent, when applicable.'),
    ] = None
    prompt: Annotated[
        str | None,
        Field(
            description='Prompt text sent as part of the collab tool call, when available.'
        ),
    ] = None
    reasoningEffort: Annotated[
        ReasoningEffort | None,
        Field(
            description='Reasoning effort requested for the spawned agent, when applicable.'
        ),
    ] = None
    receiverThreadIds: Annotated[
        list[str],
        Field(
            description='Thread ID of the receiving agent, when applicable. In case of spawn operation, this corresponds to the newly spawned agent.'
        ),
    ]
    senderThreadId: Annotated[
        str, Field(description='Thread ID of the agent issuing the collab request.')
    ]
    status: Annotated[
        CollabAgentToolCallStatus,
        Field(description='Current status of the collab tool call.'),
    ]
    tool: Annotated[
        CollabAgentTool, Field(description='Name of the collab tool that was invoked.')
    ]
    type: Annotated[
        CollabAgentToolCallThreadItemType,
        Field(title='CollabAgentToolCallThreadItemType'),
    ]


class WebSearchThreadItem(BaseModel):
    """
    A thread item and its recorded lifecycle times. The payload stays flat on the wire.
    """

    completedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item completed, if recorded.'
        ),
    ] = None
    startedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item started, if recorded.'
        ),
    ] = None
    action: WebSearchAction | None = None
    id: str
    query: str
    results: Annotated[
        list[Any] | None,
        Field(
            description='Structured search results returned out-of-band by standalone web search.\n\nThese stay as opaque JSON at the extension/app-server boundary so new result fields and result types can pass through without a Codex release.'
        ),
    ] = None
    type: Annotated[WebSearchThreadItemType, Field(title='WebSearchThreadItemType')]


class ThreadStartParams(BaseModel):
    allowProviderModelFallback: Annotated[
        bool | None,
        Field(
            description='Allow a provider with an authoritative static model catalog to replace an unavailable requested model with its default.'
        ),
    ] = None
    approvalPolicy: AskForApproval | None = None
    approvalsReviewer: Annotated[
        ApprovalsReviewer | None,
        Field(
            description='Override where approval requests are routed for review on this thread and subsequent turns.'
        ),
    ] = None
    baseInstructions: str | None = None
    config: dict[str, Any] | None = None
    cwd: str | None = None
    daybreakEnabled: Annotated[
        bool | None,
        Field(
            description="Initial Daybreak choice for this persistent thread. Omitted or null leaves it unset. This does not select a turn's `cyberAccessProgram` or grant access. Not supported for ephemeral threads."
        ),
    ] = None
    developerInstructions: str | None = None
    dynamicTools: list[DynamicToolSpec] | None = None
    environments: Annotated[
        list[TurnEnvironmentParams] | None,
        Field(
            description='Optional sticky environments for this thread.\n\nOmitted selects the default environment when environment access is enabled. Empty disables environment access for turns that do not provide a turn override. Non-empty selects the first environment as the current turn environment.'
        ),
    ] = None
    ephemeral: bool | None = None
    experimentalRawEvents: Annotated[
        bool | None,
        Field(
            description='If true, opt into emitting raw Responses API items on the event stream. This is for internal use only (e.g. Codex Cloud).'
        ),
    ] = None
    historyMode: Annotated[
        ThreadHistoryMode | None,
        Field(
            description='Persisted thread history contract to use for this new thread.'
        ),
    ] = None
    mockExperimentalField: Annotated[
        str | None,
        Field(
            description='Test-only experimental field used to validate experimental gating and schema filtering behavior in a stable way.'
        ),
    ] = None
    model: str | None = None
    modelProvider: str | None = None
    multiAgentMode: Annotated[
        MultiAgentMode | None,
        Field(
            description='@deprecated Ignored. Use Ultra reasoning effort for proactive multi-agent behavior.'
        ),
    ] = None
    permissions: Annotated[
        str | None,
        Field(
            description='Named profile id for this thread. Cannot be combined with `sandbox`.'
        ),
    ] = None
    personality: Annotated[
        Personality | None,
        Field(
            description='@deprecated `friendly` and `pragmatic` no longer select a style.'
        ),
    ] = None
    projectId: Annotated[
        str | None,
        Field(
            description='Optional project identity for this new thread. Durable threads persist the assignment; ephemeral threads expose it only in live responses.'
        ),
    ] = None
    runtimeWorkspaceRoots: Annotated[
        list[AbsolutePathBuf] | None,
        Field(
            description="Replace the thread's runtime workspace roots. Paths must be absolute."
        ),
    ] = None
    sandbox: SandboxMode | None = None
    selectedCapabilityRoots: Annotated[
        list[SelectedCapabilityRoot] | None,
        Field(
            description='Capability roots selected for this thread by the hosting platform.'
        ),
    ] = None
    serviceName: str | None = None
    serviceTier: str | None = None
    sessionStartSource: ThreadStartSource | None = None
    threadSource: Annotated[
        ThreadSource | None,
        Field(
            description='Optional client-supplied analytics source classification for this thread.'
        ),
    ] = None


class ThreadTokenUsage(BaseModel):
    last: TokenUsageBreakdown
    modelContextWindow: int | None = None
    total: TokenUsageBreakdown


class ThreadTokenUsageUpdatedNotification(BaseModel):
    threadId: str
    tokenUsage: ThreadTokenUsage
    turnId: str


class ToolRequestUserInputParams(BaseModel):
    """
    EXPERIMENTAL. Params sent with a request_user_input event.
    """

    autoResolutionMs: Annotated[
        int | None,
        Field(
            description='@deprecated Use `isBlocking` to decide whether the request should block.',
            ge=0,
        ),
    ] = None
    isBlocking: bool
    itemId: str
    questions: list[ToolRequestUserInputQuestion]
    threadId: str
    turnId: str


class TurnError(BaseModel):
    additionalDetails: str | None = None
    codexErrorInfo: CodexErrorInfo | None = None
    message: str
    misalignment: Annotated[
        MisalignmentErrorDetails | None,
        Field(
            description='Optional public explanation and continuation instruction for a misalignment block.'
        ),
    ] = None


class AccountRateLimitsUpdatedNotification(BaseModel):
    """
    Sparse rolling rate-limit update.

    Clients should merge available values into the most recent `account/rateLimits/read` response or refetch that snapshot. Nullable account metadata may be unavailable in a rolling update and does not clear a previously observed value.
    """

    rateLimits: RateLimitSnapshot


class ApplyPatchApprovalResponse(BaseModel):
    decision: ReviewDecision


class ApplyNetworkPolicyAmendment(BaseModel):
    network_policy_amendment: NetworkPolicyAmendment


class ApplyNetworkPolicyAmendmentCommandExecutionApprovalDecision(BaseModel):
    """
    User chose a persistent network policy rule (allow/deny) for this host.
    """

    model_config = ConfigDict(
        extra='forbid',
    )
    applyNetworkPolicyAmendment: ApplyNetworkPolicyAmendment


class CommandExecutionApprovalDecision(
    RootModel[
        CommandExecutionApprovalDecision1
        | CommandExecutionApprovalDecision2
        | AcceptWithExecpolicyAmendmentCommandExecutionApprovalDecision
        | ApplyNetworkPolicyAmendmentCommandExecutionApprovalDecision
        | CommandExecutionApprovalDecision3
        | CommandExecutionApprovalDecision4
    ]
):
    root: (
        CommandExecutionApprovalDecision1
        | CommandExecutionApprovalDecision2
        | AcceptWithExecpolicyAmendmentCommandExecutionApprovalDecision
        | ApplyNetworkPolicyAmendmentCommandExecutionApprovalDecision
        | CommandExecutionApprovalDecision3
        | CommandExecutionApprovalDecision4
    )


class CommandExecutionRequestApprovalResponse(BaseModel):
    decision: CommandExecutionApprovalDecision


class ExecCommandApprovalResponse(BaseModel):
    decision: ReviewDecision


class FunctionCallOutputBody(RootModel[str | list[FunctionCallOutputContentItem]]):
    root: str | list[FunctionCallOutputContentItem]


class FunctionCallOutputThreadItem(BaseModel):
    """
    A thread item and its recorded lifecycle times. The payload stays flat on the wire.
    """

    completedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item completed, if recorded.'
        ),
    ] = None
    startedAtMs: Annotated[
        int | None,
        Field(
            description='Unix timestamp in milliseconds when the item started, if recorded.'
        ),
    ] = None
    id: str
    name: str
    namespace: str | None = None
    output: FunctionCallOutputBody
    type: Annotated[
        FunctionCallOutputThreadItemType,
        Field(title='FunctionCallOutputThreadItemType'),
    ]


class ThreadItem(
    RootModel[
        UserMessageThreadItem
        | HookPromptThreadItem
        | AgentMessageThreadItem
        | FunctionCallOutputThreadItem
        | PlanThreadItem
        | ReasoningThreadItem
        | CommandExecutionThreadItem
        | FileChangeThreadItem
        | McpToolCallThreadItem
        | DynamicToolCallThreadItem
        | CollabAgentToolCallThreadItem
        | SubAgentActivityThreadItem
        | WebSearchThreadItem
        | ImageViewThreadItem
        | SleepThreadItem
        | ImageGenerationThreadItem
        | EnteredReviewModeThreadItem
        | ExitedReviewModeThreadItem
        | ContextCompactionThreadItem
    ]
):
    root: Annotated[
        UserMessageThreadItem
        | HookPromptThreadItem
        | AgentMessageThreadItem
        | FunctionCallOutputThreadItem
        | PlanThreadItem
        | ReasoningThreadItem
        | CommandExecutionThreadItem
        | FileChangeThreadItem
        | McpToolCallThreadItem
        | DynamicToolCallThreadItem
        | CollabAgentToolCallThreadItem
        | SubAgentActivityThreadItem
        | WebSearchThreadItem
        | ImageViewThreadItem
        | SleepThreadItem
        | ImageGenerationThreadItem
        | EnteredReviewModeThreadItem
        | ExitedReviewModeThreadItem
        | ContextCompactionThreadItem,
        Field(
            description='A thread item and its recorded lifecycle times. The payload stays flat on the wire.'
        ),
    ]


class Turn(BaseModel):
    completedAt: Annotated[
        int | None,
        Field(description='Unix timestamp (in seconds) when the turn completed.'),
    ] = None
    durationMs: Annotated[
        int | None,
        Field(
            description='Duration between turn start and completion in milliseconds, if known.'
        ),
    ] = None
    error: Annotated[
        TurnError | None,
        Field(description='Error associated with a failed or interrupted turn.'),
    ] = None
    id: Annotated[
        str,
        Field(
            description='Identifier for this turn. Codex-generated turn IDs are UUIDv7.'
        ),
    ]
    items: Annotated[
        list[ThreadItem],
        Field(description='Thread items currently included in this turn payload.'),
    ]
    itemsView: Annotated[
        TurnItemsView | None,
        Field(
            description='Describes how much of `items` has been loaded for this turn.',
            validate_default=True,
        ),
    ] = 'full'
    rootTurnId: Annotated[
        str | None,
        Field(
            description='ID of the first turn in the chain of work that led to this turn. Pass this as `rootTurnId` when starting work on behalf of this turn. May be null in older history or a `review/start` response.'
        ),
    ] = None
    startedAt: Annotated[
        int | None,
        Field(description='Unix timestamp (in seconds) when the turn started.'),
    ] = None
    status: TurnStatus


class TurnCompletedNotification(BaseModel):
    threadId: str
    turn: Turn


class TurnToolOutput(BaseModel):
    name: str
    namespace: str | None = None
    output: FunctionCallOutputBody
    retain: Annotated[
        bool | None,
        Field(
            description="Requests retention of this output in the thread's model history."
        ),
    ] = None


class TurnStartParams(BaseModel):
    additionalContext: Annotated[
        dict[str, Any] | None,
        Field(
            description='Optional client-provided context fragments keyed by an opaque source identifier.'
        ),
    ] = None
    approvalPolicy: Annotated[
        AskForApproval | None,
        Field(
            description='Override the approval policy for this turn and subsequent turns.'
        ),
    ] = None
    approvalsReviewer: Annotated[
        ApprovalsReviewer | None,
        Field(
            description='Override where approval requests are routed for review on this turn and subsequent turns.'
        ),
    ] = None
    clientUserMessageId: str | None = None
    collaborationMode: Annotated[
        CollaborationMode | None,
        Field(
            description='EXPERIMENTAL - Set a pre-set collaboration mode. Takes precedence over model, reasoning_effort, and developer instructions if set.\n\nFor `collaboration_mode.settings.developer_instructions`, `null` means "use the built-in instructions for the selected mode".'
        ),
    ] = None
    cwd: Annotated[
        str | None,
        Field(
            description='Override the working directory for this turn and subsequent turns.'
        ),
    ] = None
    cyberAccessProgram: Annotated[
        CyberAccessProgram | None,
        Field(
            description='EXPERIMENTAL - Request an authorized cyber program for this turn. Omission preserves automatic behavior. This does not grant access.'
        ),
    ] = None
    disabledPluginIds: Annotated[
        list[str] | None,
        Field(
            description="Replace this thread's disabled plugin IDs. Omitted/null preserves the list; [] clears it."
        ),
    ] = None
    effort: Annotated[
        ReasoningEffort | None,
        Field(
            description='Override the reasoning effort for this turn and subsequent turns.'
        ),
    ] = None
    environments: Annotated[
        list[TurnEnvironmentParams] | None,
        Field(
            description='Optional environments for this turn and subsequent turns.\n\nOmitted uses the thread sticky environments. Empty disables environment access for this turn. Non-empty selects the first environment as the current turn environment for this turn.'
        ),
    ] = None
    input: list[UserInput]
    model: Annotated[
        str | None,
        Field(description='Override the model for this turn and subsequent turns.'),
    ] = None
    multiAgentMode: Annotated[
        MultiAgentMode | None,
        Field(
            description='@deprecated Ignored. Use `effort: "ultra"` for proactive multi-agent behavior.'
        ),
    ] = None
    outputSchema: Annotated[
        Any | None,
        Field(
            description='Optional JSON Schema used to constrain the final assistant message for this turn.'
        ),
    ] = None
    parentTurnId: Annotated[
        str | None,
        Field(
            description='ID of the turn that caused this new turn to start.\n\nSet this when starting work on behalf of another turn, such as delegated work in a different thread. Leave unset for work started directly by the user. Ignored when this request adds input to an active turn.'
        ),
    ] = None
    permissions: Annotated[
        str | None,
        Field(
            description='Select a named permissions profile id for this turn and subsequent turns. Cannot be combined with `sandboxPolicy`.'
        ),
    ] = None
    personality: Annotated[
        Personality | None,
        Field(
            description="@deprecated `friendly` and `pragmatic` no longer select a style. Changing this does not rewrite the thread's existing instructions."
        ),
    ] = None
    responsesapiClientMetadata: Annotated[
        dict[str, Any] | None,
        Field(
            description='Optional metadata to enrich Codex\'s ResponsesAPI turn metadata. Replaces unprotected client-provided entries when supplied; an empty map clears them.\n\nEntries are flattened into the JSON string sent as `client_metadata["x-codex-turn-metadata"]` on ResponsesAPI HTTP and websocket requests.\n\nThey are not sent as top-level ResponsesAPI `client_metadata` keys, and reserved keys such as `session_id`, `thread_id`, `turn_id`, and `window_id` cannot be overridden.'
        ),
    ] = None
    responsesapiClientMetadataPatch: Annotated[
        dict[str, Any] | None,
        Field(
            description='Merge entries into the ResponsesAPI turn metadata without removing existing entries. Applied after `responsesapiClientMetadata` if both are provided; reserved keys remain protected.'
        ),
    ] = None
    rootTurnId: Annotated[
        str | None,
        Field(
            description="ID of the first turn in the chain of work that led to this new turn.\n\nWhen setting `parentTurnId`, set this to the parent turn's `rootTurnId` when known. This keeps descendant work attributed to the original turn. If omitted, the new turn becomes its own root. Ignored when this request adds input to an active turn."
        ),
    ] = None
    runtimeWorkspaceRoots: Annotated[
        list[AbsolutePathBuf] | None,
        Field(
            description="Replace the thread's runtime workspace roots for this turn and subsequent turns. Paths must be absolute."
        ),
    ] = None
    sandboxPolicy: Annotated[
        SandboxPolicy | None,
        Field(
            description='Override the sandbox policy for this turn and subsequent turns.'
        ),
    ] = None
    serviceTier: Annotated[
        str | None,
        Field(
            description='Override the service tier for this turn and subsequent turns.'
        ),
    ] = None
    serviceTierForTurn: Annotated[
        str | None,
        Field(
            description='Override the service tier only when this request starts a new turn. Use "default" for standard speed. Omitted or null inherits the thread\'s tier. Does not change the thread\'s tier or a turn being steered.'
        ),
    ] = None
    summary: Annotated[
        ReasoningSummary | None,
        Field(
            description='Override the reasoning summary for this turn and subsequent turns.'
        ),
    ] = None
    threadId: str
    toolOutput: TurnToolOutput | None = None
    turnTrigger: Annotated[
        str | None,
        Field(
            description='Optional source classification for the caller that starts this turn. Ignored when this request steers an already-active turn.'
        ),
    ] = None


class CodexProtocol(BaseModel):
    AccountRateLimitsUpdatedNotification_1: Annotated[
        AccountRateLimitsUpdatedNotification | None,
        Field(alias='AccountRateLimitsUpdatedNotification'),
    ] = None
    ApplyPatchApprovalResponse_1: Annotated[
        ApplyPatchApprovalResponse | None, Field(alias='ApplyPatchApprovalResponse')
    ] = None
    CommandExecutionRequestApprovalResponse_1: Annotated[
        CommandExecutionRequestApprovalResponse | None,
        Field(alias='CommandExecutionRequestApprovalResponse'),
    ] = None
    DynamicToolCallParams_1: Annotated[
        DynamicToolCallParams | None, Field(alias='DynamicToolCallParams')
    ] = None
    DynamicToolCallResponse_1: Annotated[
        DynamicToolCallResponse | None, Field(alias='DynamicToolCallResponse')
    ] = None
    ExecCommandApprovalResponse_1: Annotated[
        ExecCommandApprovalResponse | None, Field(alias='ExecCommandApprovalResponse')
    ] = None
    FileChangeRequestApprovalResponse_1: Annotated[
        FileChangeRequestApprovalResponse | None,
        Field(alias='FileChangeRequestApprovalResponse'),
    ] = None
    InitializeParams_1: Annotated[
        InitializeParams | None, Field(alias='InitializeParams')
    ] = None
    ThreadStartParams_1: Annotated[
        ThreadStartParams | None, Field(alias='ThreadStartParams')
    ] = None
    ThreadTokenUsageUpdatedNotification_1: Annotated[
        ThreadTokenUsageUpdatedNotification | None,
        Field(alias='ThreadTokenUsageUpdatedNotification'),
    ] = None
    ToolRequestUserInputParams_1: Annotated[
        ToolRequestUserInputParams | None, Field(alias='ToolRequestUserInputParams')
    ] = None
    TurnCompletedNotification_1: Annotated[
        TurnCompletedNotification | None, Field(alias='TurnCompletedNotification')
    ] = None
    TurnStartParams_1: Annotated[
        TurnStartParams | None, Field(alias='TurnStartParams')
    ] = None
