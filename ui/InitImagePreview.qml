// The init image in the options panel: its thumbnail framed at the size
// the job will use (so stretch, crop and fit show what they do), its own
// size, "will be resized to W×H", the resize mode and a remove button.
// A new image simply replaces `source`.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
    id: root

    /// The image URL (image://init/<ref>); "" hides the preview.
    property string source: ""
    /// What the user calls it.
    property string name: ""
    /// Its size.
    property int imageWidth: 0
    property int imageHeight: 0
    /// The size the job will use.
    property int targetWidth: 512
    property int targetHeight: 512
    /// "stretch", "crop" or "fit".
    property string resizeMode: "stretch"

    /// The user picked another resize mode.
    signal resizeModeSelected(string mode)
    /// The user removed the image.
    signal removeRequested()
    /// The user asked to upscale the image (a job of its own).
    signal upscaleRequested()
    /// An upscaler is set, so the Upscale button is live.
    property bool canUpscale: false

    readonly property bool sameSize: imageWidth === targetWidth && imageHeight === targetHeight
    readonly property string sizeText: imageWidth + "\u00d7" + imageHeight
    readonly property string resizeText: sameSize
        ? qsTr("Used at its own size")
        : qsTr("Will be resized to %1\u00d7%2").arg(targetWidth).arg(targetHeight)
    readonly property var modes: [
        { id: "stretch", label: qsTr("Stretch"), tip: qsTr("Scale each side to fit exactly (as the original tool does)") },
        { id: "crop", label: qsTr("Crop"), tip: qsTr("Scale to cover, then cut the overflow") },
        { id: "fit", label: qsTr("Fit"), tip: qsTr("Scale to fit inside and fill the margins") }
    ]

    visible: source !== ""
    spacing: 8

    RowLayout {
        Layout.fillWidth: true
        Label {
            text: qsTr("Init image")
            font.weight: Font.DemiBold
            color: Theme.text
        }
        Item { Layout.fillWidth: true }
        ToolButton {
            objectName: "upscaleInitButton"
            icon.source: "qrc:/daub/icons/upscale.svg"
            icon.color: Theme.mutedText
            icon.width: 16
            icon.height: 16
            enabled: root.canUpscale
            onClicked: root.upscaleRequested()
            ToolTip.visible: hovered
            ToolTip.text: root.canUpscale ? qsTr("Upscale this image")
                                          : qsTr("Choose an upscaler under Upscale to upscale this image")
        }
        ToolButton {
            id: removeButton
            objectName: "removeButton"
            icon.source: "qrc:/daub/icons/close.svg"
            icon.color: Theme.mutedText
            icon.width: 16
            icon.height: 16
            onClicked: root.removeRequested()
            ToolTip.visible: hovered
            ToolTip.text: qsTr("Remove the init image")
        }
    }

    // The thumbnail, framed at the target aspect ratio.
    Rectangle {
        id: frame
        Layout.fillWidth: true
        Layout.preferredHeight: Math.min(220, width * Math.max(0.25, root.targetHeight / Math.max(1, root.targetWidth)))
        radius: Theme.smallRadius
        color: Theme.sunken
        border.color: Theme.border
        clip: true

        Item {
            id: target
            anchors.centerIn: parent
            readonly property real ratio: root.targetWidth / Math.max(1, root.targetHeight)
            width: Math.min(parent.width - 12, (parent.height - 12) * ratio)
            height: width / ratio

            Image {
                id: thumbnail
                objectName: "thumbnail"
                anchors.fill: parent
                source: root.source
                asynchronous: false
                cache: false
                sourceSize: Qt.size(512, 512)
                smooth: true
                fillMode: root.resizeMode === "crop" ? Image.PreserveAspectCrop
                        : root.resizeMode === "fit" ? Image.PreserveAspectFit : Image.Stretch
                clip: true
            }
            Rectangle {
                anchors.fill: parent
                color: "transparent"
                border.color: Theme.accent
                border.width: 1
                opacity: 0.6
            }
        }
    }

    Label {
        id: sizeLabel
        objectName: "sizeLabel"
        Layout.fillWidth: true
        text: (root.name ? root.name + " \u00b7 " : "") + root.sizeText
        elide: Text.ElideMiddle
        color: Theme.text
    }
    Label {
        id: resizeLabel
        objectName: "resizeLabel"
        Layout.fillWidth: true
        text: root.resizeText
        color: Theme.mutedText
        font.pointSize: Qt.application.font.pointSize * Theme.smallFont
    }

    RowLayout {
        id: modeRow
        objectName: "modeRow"
        Layout.fillWidth: true
        spacing: 0
        Repeater {
            model: root.modes
            delegate: Button {
                required property var modelData
                required property int index
                objectName: "mode_" + modelData.id
                Layout.fillWidth: true
                text: modelData.label
                checkable: true
                checked: root.resizeMode === modelData.id
                flat: !checked
                onClicked: root.resizeModeSelected(modelData.id)
                ToolTip.visible: hovered
                ToolTip.delay: 500
                ToolTip.text: modelData.tip
            }
        }
    }
}
