// The conversation: a ListView over ChatController's MessageModel whose
// delegate picks one small component per message kind (prompt, reply,
// notice). It follows new messages unless the user scrolled up to read.
import QtQuick
import QtQuick.Controls
import Daub.App

ListView {
    id: root

    /// Writes a result to a file for dragging out; returns its URL.
    property var exportForDrag: null

    signal cancelRequested(int jobId)
    signal saveRequested(int jobId)
    signal copyRequested(int jobId)
    signal useAsInitRequested(int jobId)
    signal rerunRequested(int jobId)
    signal parametersRequested(int jobId)
    signal upscaleRequested(int jobId)
    signal refineRequested(int jobId)
    signal saveAsRequested(int jobId)
    signal viewRequested(int jobId, string source, int width, int height)
    signal useParameters(string parameters)

    /// True while the view shows the newest message.
    property bool following: true
    /// The result the keyboard acts on (Ctrl+S); -1: none picked.
    property int selectedJob: -1
    /// Older messages can be loaded (scrolling to the top asks for them).
    property bool hasOlder: false
    signal olderRequested()

    clip: true
    spacing: 10
    topMargin: 16
    bottomMargin: 16
    boundsBehavior: Flickable.StopAtBounds
    reuseItems: true
    cacheBuffer: 1200
    ScrollBar.vertical: ScrollBar { policy: ScrollBar.AsNeeded }

    onMovementEnded: following = atYEnd
    // Scrolled to the top: the previous page of the conversation, keeping
    // the message in view where it was.
    onAtYBeginningChanged: if (atYBeginning && hasOlder && moving) loadOlder()
    function loadOlder() {
        const before = count
        const first = indexAt(10, contentY + 10)
        olderRequested()
        if (count > before)
            Qt.callLater(() => positionViewAtIndex(Math.max(0, first) + count - before, ListView.Beginning))
    }
    header: Item {
        width: ListView.view ? ListView.view.width : 0
        height: root.hasOlder ? 36 : 0
        visible: root.hasOlder
        Button {
            objectName: "olderButton"
            anchors.centerIn: parent
            flat: true
            text: qsTr("Show earlier messages")
            onClicked: root.loadOlder()
        }
    }
    onCountChanged: if (following) Qt.callLater(root.positionViewAtEnd)
    onContentHeightChanged: if (following && !moving) Qt.callLater(root.positionViewAtEnd)

    delegate: Loader {
        id: chooser
        required property int index
        required property int kind
        required property var model
        width: ListView.view.width
        sourceComponent: kind === MessageModel.Prompt ? promptComponent
                       : kind === MessageModel.Reply ? replyComponent : noticeComponent

        Component {
            id: promptComponent
            PromptMessage {
                text: chooser.model.text
                negativePrompt: chooser.model.negativePrompt
                details: chooser.model.details
                initImageSource: chooser.model.initImageSource
            }
        }
        Component {
            id: replyComponent
            ReplyMessage {
                jobId: chooser.model.jobId
                status: chooser.model.status
                statusText: chooser.model.statusText
                text: chooser.model.text
                step: chooser.model.step
                totalSteps: chooser.model.totalSteps
                elapsedMs: chooser.model.elapsedMs
                previewSource: chooser.model.previewSource
                imageSource: chooser.model.imageSource
                imageWidth: chooser.model.imageWidth
                imageHeight: chooser.model.imageHeight
                fromCache: chooser.model.fromCache
                images: chooser.model.images
                deleted: chooser.model.deleted
                selectedJob: root.selectedJob
                exportForDrag: root.exportForDrag
                onSelected: (id) => root.selectedJob = id
                onCancelRequested: (id) => root.cancelRequested(id)
                onSaveRequested: (id) => root.saveRequested(id)
                onCopyRequested: (id) => root.copyRequested(id)
                onUseAsInitRequested: (id) => root.useAsInitRequested(id)
                onRerunRequested: (id) => root.rerunRequested(id)
                onParametersRequested: (id) => root.parametersRequested(id)
                onUpscaleRequested: (id) => root.upscaleRequested(id)
                onRefineRequested: (id) => root.refineRequested(id)
                onSaveAsRequested: (id) => root.saveAsRequested(id)
                onViewRequested: (id, source, w, h) => root.viewRequested(id, source, w, h)
            }
        }
        Component {
            id: noticeComponent
            NoticeMessage {
                text: chooser.model.text
                action: chooser.model.action
                parameters: chooser.model.parameters
                onUseParameters: (p) => root.useParameters(p)
            }
        }
    }
}
