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
    /// Double-click on the image: show it at full size.
    signal viewRequested(int jobId)

    readonly property bool waiting: status === MessageModel.Queued || status === MessageModel.WaitingForModel
    readonly property bool running: status === MessageModel.Running
    readonly property bool done: status === MessageModel.Done
    readonly property bool failed: status === MessageModel.Failed
    readonly property bool cancelled: status === MessageModel.Cancelled
    readonly property real maxImageSide: Math.min(512, root.width - 96)

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
                visible: (root.running && root.previewSource !== "") || root.done
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
                    visible: root.done
                    source: root.done ? root.imageSource : ""
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
                        onDoubleClicked: root.viewRequested(root.jobId)
                    }
                    ToolTip.visible: false
                }
            }

            Label {
                Layout.fillWidth: true
                Layout.preferredWidth: 380
                visible: root.failed && root.text !== ""
                text: root.text
                wrapMode: Text.Wrap
                color: Theme.text
                textFormat: Text.PlainText
            }

            // A finished image's actions.
            Flow {
                Layout.fillWidth: true
                visible: root.done
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
                            case "save": root.saveRequested(root.jobId); break
                            case "saveAs": root.saveAsRequested(root.jobId); break
                            case "copy": root.copyRequested(root.jobId); break
                            case "init": root.useAsInitRequested(root.jobId); break
                            case "rerun": root.rerunRequested(root.jobId); break
                            case "upscale": root.upscaleRequested(root.jobId); break
                            case "refine": root.refineRequested(root.jobId); break
                            case "params": root.parametersRequested(root.jobId); break
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
