// Daub's answer to a prompt: its status (queued, with its place in line;
// running, with a progress bar, step i/N, elapsed time and a live preview
// updated every step; done, with the image and its actions; failed, with
// one sentence; cancelled).
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Daub.App

Item {
    id: root

    required property int jobId
    required property int status
    required property string statusText
    required property string text
    required property int step
    required property int totalSteps
    required property real elapsedMs
    required property string previewSource
    required property string imageSource
    required property int imageWidth
    required property int imageHeight
    required property bool fromCache
    /// A batch's images ([{jobId, status, imageSource, width, height, seed,
    /// error}]); empty or one entry for a single job.
    property var images: []
    /// The image was deleted from the history (in the gallery).
    property bool deleted: false
    /// The result the keyboard acts on (ChatView's selection).
    property int selectedJob: -1
    /// Writes the image to a file for dragging out; returns its URL.
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
    /// Double-click on an image: show it at full size.
    signal viewRequested(int jobId, string source, int width, int height)
    /// A click on an image: it becomes the selected result.
    signal selected(int jobId)

    readonly property bool waiting: status === MessageModel.Queued || status === MessageModel.WaitingForModel
    readonly property bool running: status === MessageModel.Running
    readonly property bool done: status === MessageModel.Done
    readonly property bool failed: status === MessageModel.Failed
    readonly property bool cancelled: status === MessageModel.Cancelled
    readonly property real maxImageSide: Math.min(512, root.width - 96)
    readonly property bool batch: images && images.length > 1
    /// The image the actions apply to: the selected one of a batch, else
    /// its first finished one; the job itself for a single image.
    readonly property int actionJob: {
        if (!batch)
            return jobId
        let first = -1
        for (let i = 0; i < images.length; ++i) {
            if (images[i].status !== MessageModel.Done || images[i].deleted)
                continue
            if (images[i].jobId === selectedJob)
                return selectedJob
            if (first < 0)
                first = images[i].jobId
        }
        return first
    }

    implicitHeight: card.height + 8

    // Daub's avatar.
    Rectangle {
        id: avatar
        x: 16
        y: 2
        width: 32
        height: 32
        radius: 16
        color: Theme.accentSoft
        Image {
            anchors.centerIn: parent
            source: "qrc:/daub/icons/daub.svg"
            sourceSize: Qt.size(22, 22)
        }
    }

    Rectangle {
        id: card
        objectName: "replyCard"
        anchors.left: avatar.right
        anchors.leftMargin: 10
        width: Math.min(root.width - 80, Math.max(260, column.implicitWidth + 24))
        height: column.implicitHeight + 20
        radius: Theme.radius + 4
        color: Theme.raised
        border.color: root.failed ? Theme.danger : Theme.border

        ColumnLayout {
            id: column
            anchors.fill: parent
            anchors.margins: 10
            anchors.leftMargin: 12
            anchors.rightMargin: 12
            spacing: 8

            RowLayout {
                Layout.fillWidth: true
                spacing: 8
                Rectangle {
                    width: 8
                    height: 8
                    radius: 4
                    color: root.failed ? Theme.danger
                         : root.done ? Theme.success
                         : root.running ? Theme.accent : Theme.faintText
                }
                Label {
                    id: statusLabel
                    objectName: "statusLabel"
                    Layout.fillWidth: true
                    text: root.statusText
                    color: root.failed ? Theme.danger : Theme.mutedText
                    font.pointSize: Qt.application.font.pointSize * Theme.smallFont
                    elide: Text.ElideRight
                }
                ToolButton {
                    visible: root.waiting || root.running
                    text: qsTr("Cancel")
                    icon.source: "qrc:/daub/icons/stop.svg"
                    icon.color: Theme.mutedText
                    icon.width: 14
                    icon.height: 14
                    font.pointSize: Qt.application.font.pointSize * Theme.smallFont
                    onClicked: root.cancelRequested(root.jobId)
                }
            }

            ProgressBar {
                id: progress
                objectName: "progressBar"
                Layout.fillWidth: true
                visible: root.running
                from: 0
                to: Math.max(1, root.totalSteps)
                value: root.step
                indeterminate: root.totalSteps === 0
            }

            // The live preview while running; the image when done.
            Item {
                id: picture
                visible: (root.running && root.previewSource !== "") || (root.done && !root.batch && !root.deleted)
                readonly property real aspect: root.done && root.imageHeight > 0
                    ? root.imageWidth / root.imageHeight
                    : (previewImage.implicitHeight > 0 ? previewImage.implicitWidth / previewImage.implicitHeight : 1)
                readonly property real side: root.done ? root.maxImageSide : Math.min(256, root.maxImageSide)
                Layout.preferredWidth: aspect >= 1 ? side : side * aspect
                Layout.preferredHeight: aspect >= 1 ? side / aspect : side

                Image {
                    id: previewImage
                    anchors.fill: parent
                    visible: root.running
                    source: root.running ? root.previewSource : ""
                    cache: false
                    smooth: false // a preview is 1/8 of the size: show its pixels
                    fillMode: Image.PreserveAspectFit
                }
                Image {
                    id: resultImage
                    objectName: "resultImage"
                    anchors.fill: parent
                    visible: root.done && !root.batch
                    source: root.done && !root.batch ? root.imageSource : ""
                    sourceSize: Qt.size(1024, 1024)
                    fillMode: Image.PreserveAspectFit
                    smooth: root.imageWidth > width
                    asynchronous: true
                    mipmap: true

                    // Drag the image out to other programs.
                    Drag.dragType: Drag.Automatic
                    Drag.supportedActions: Qt.CopyAction
                    Drag.mimeData: ({ "text/uri-list": dragUrl })
                    property string dragUrl: ""

                    Item { id: dragDummy }
                    MouseArea {
                        anchors.fill: parent
                        drag.target: dragDummy
                        cursorShape: Qt.OpenHandCursor
                        onPressed: {
                            if (root.exportForDrag) {
                                resultImage.dragUrl = root.exportForDrag(root.jobId)
                                resultImage.grabToImage(function(r) { resultImage.Drag.imageSource = r.url },
                                                        Qt.size(128, 128 / Math.max(0.1, picture.aspect)))
                            }
                        }
                        onReleased: resultImage.Drag.active = false
                        drag.onActiveChanged: if (drag.active && resultImage.dragUrl !== "") resultImage.Drag.active = true
                        onClicked: root.selected(root.jobId)
                        onDoubleClicked: root.viewRequested(root.jobId, root.imageSource, root.imageWidth, root.imageHeight)
                    }
                    ToolTip.visible: false
                }
                Rectangle { // the selected result
                    anchors.fill: parent
                    anchors.margins: -3
                    visible: root.done && !root.batch && root.selectedJob === root.jobId
                    color: "transparent"
                    border.color: Theme.accent
                    border.width: 2
                    radius: 4
                }
            }

            // A batch: its images in a grid; a click picks the one the
            // actions apply to, a double-click shows it at full size.
            Grid {
                id: batchGrid
                objectName: "batchGrid"
                visible: root.done && root.batch && !root.deleted
                columns: root.batch && root.images.length > 4 ? 4 : 2
                spacing: 6
                readonly property real cell: (root.maxImageSide - spacing * (columns - 1)) / columns
                Repeater {
                    model: root.done && root.batch ? root.images : []
                    delegate: Rectangle {
                        required property var modelData
                        objectName: "batchCell"
                        width: batchGrid.cell
                        height: batchGrid.cell
                        radius: 4
                        color: Theme.sunken
                        border.width: modelData.jobId === root.actionJob ? 2 : 0
                        border.color: Theme.accent
                        Image {
                            anchors.fill: parent
                            anchors.margins: 3
                            visible: modelData.status === MessageModel.Done && !modelData.deleted
                            source: visible ? modelData.imageSource : ""
                            sourceSize: Qt.size(512, 512)
                            fillMode: Image.PreserveAspectFit
                            asynchronous: true
                            mipmap: true
                        }
                        Label {
                            anchors.centerIn: parent
                            width: parent.width - 12
                            visible: modelData.status !== MessageModel.Done || modelData.deleted
                            horizontalAlignment: Text.AlignHCenter
                            wrapMode: Text.Wrap
                            color: modelData.status === MessageModel.Failed ? Theme.danger : Theme.mutedText
                            font.pointSize: Qt.application.font.pointSize * Theme.smallFont
                            text: modelData.deleted ? qsTr("Deleted")
                                : modelData.status === MessageModel.Failed ? qsTr("Failed") : qsTr("Cancelled")
                        }
                        MouseArea {
                            anchors.fill: parent
                            enabled: modelData.status === MessageModel.Done && !modelData.deleted
                            onClicked: root.selected(modelData.jobId)
                            onDoubleClicked: root.viewRequested(modelData.jobId, modelData.imageSource,
                                                                modelData.width, modelData.height)
                        }
                        ToolTip.visible: cellHover.hovered
                        ToolTip.delay: 600
                        ToolTip.text: qsTr("Seed %1").arg(modelData.seedText)
                        HoverHandler { id: cellHover }
                    }
                }
            }

            Label {
                Layout.fillWidth: true
                Layout.preferredWidth: 380
                visible: (root.failed || (root.batch && root.done)) && root.text !== ""
                text: root.text
                wrapMode: Text.Wrap
                color: Theme.text
                textFormat: Text.PlainText
            }

            Label {
                objectName: "deletedLabel"
                visible: root.done && root.deleted
                text: root.batch ? qsTr("These images were deleted from the history.")
                                 : qsTr("This image was deleted from the history.")
                color: Theme.mutedText
                font.italic: true
            }

            // A finished image's actions.
            Flow {
                Layout.fillWidth: true
                visible: root.done && !root.deleted && root.actionJob >= 0
                spacing: 2
                Repeater {
                    model: [
                        { key: "save", label: qsTr("Save"), icon: "save", tip: qsTr("Save as PNG in the save folder") },
                        { key: "saveAs", label: qsTr("Save as\u2026"), icon: "save", tip: qsTr("Choose where to save the PNG") },
                        { key: "copy", label: qsTr("Copy"), icon: "copy", tip: qsTr("Copy the image") },
                        { key: "init", label: qsTr("Use as init"), icon: "use-as-init", tip: qsTr("Start the next image from this one") },
                        { key: "rerun", label: qsTr("Re-run"), icon: "rerun", tip: qsTr("Run again with the same seed") },
                        { key: "upscale", label: qsTr("Upscale"), icon: "upscale", tip: qsTr("Upscale this image (the factor is set under Upscale in the options)") },
                        { key: "refine", label: qsTr("Upscale + refine"), icon: "refine", tip: qsTr("Upscale, then refine with the same prompt and seed (hires fix)") },
                        { key: "params", label: qsTr("Parameters"), icon: "info", tip: qsTr("Show the parameters") }
                    ]
                    delegate: ToolButton {
                        required property var modelData
                        objectName: "action_" + modelData.key
                        text: modelData.label
                        icon.source: "qrc:/daub/icons/" + modelData.icon + ".svg"
                        icon.color: Theme.mutedText
                        icon.width: 16
                        icon.height: 16
                        font.pointSize: Qt.application.font.pointSize * Theme.smallFont
                        ToolTip.visible: hovered
                        ToolTip.delay: 500
                        ToolTip.text: modelData.tip
                        onClicked: {
                            switch (modelData.key) {
                            case "save": root.saveRequested(root.actionJob); break
                            case "saveAs": root.saveAsRequested(root.actionJob); break
                            case "copy": root.copyRequested(root.actionJob); break
                            case "init": root.useAsInitRequested(root.actionJob); break
                            case "rerun": root.rerunRequested(root.actionJob); break
                            case "upscale": root.upscaleRequested(root.actionJob); break
                            case "refine": root.refineRequested(root.actionJob); break
                            case "params": root.parametersRequested(root.actionJob); break
                            }
                        }
                    }
                }
            }
            ToolButton {
                visible: root.failed || root.cancelled
                text: qsTr("Try again")
                icon.source: "qrc:/daub/icons/rerun.svg"
                icon.color: Theme.mutedText
                icon.width: 14
                icon.height: 14
                font.pointSize: Qt.application.font.pointSize * Theme.smallFont
                onClicked: root.rerunRequested(root.jobId)
            }
        }
    }
}
