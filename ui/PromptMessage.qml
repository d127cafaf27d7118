// The user's message: the prompt, the negative prompt, the settings it ran
// with and the init image thumbnail, right-aligned like a sent message.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Item {
    id: root

    required property string text
    required property string negativePrompt
    required property string details
    /// URL of the init thumbnail, "" for txt2img.
    required property string initImageSource

    implicitHeight: bubble.height + 8

    Rectangle {
        id: bubble
        anchors.right: parent.right
        anchors.rightMargin: 16
        width: Math.min(root.width * 0.75, Math.max(180, content.implicitWidth + 28))
        height: content.implicitHeight + 20
        radius: Theme.radius + 4
        color: Theme.userBubble

        RowLayout {
            id: content
            anchors.fill: parent
            anchors.margins: 10
            anchors.leftMargin: 14
            anchors.rightMargin: 14
            spacing: 12

            Rectangle {
                visible: root.initImageSource !== ""
                Layout.alignment: Qt.AlignTop
                Layout.preferredWidth: 72
                Layout.preferredHeight: 72
                radius: Theme.smallRadius
                color: Qt.rgba(0, 0, 0, 0.15)
                clip: true
                Image {
                    anchors.fill: parent
                    anchors.margins: 1
                    source: root.initImageSource
                    fillMode: Image.PreserveAspectFit
                    sourceSize: Qt.size(144, 144)
                    asynchronous: true
                }
            }

            ColumnLayout {
                Layout.fillWidth: true
                spacing: 4
                Label {
                    Layout.fillWidth: true
                    text: root.text !== "" ? root.text : qsTr("(no prompt)")
                    wrapMode: Text.Wrap
                    color: Theme.userBubbleText
                    font.italic: root.text === ""
                    textFormat: Text.PlainText
                }
                Label {
                    Layout.fillWidth: true
                    visible: root.negativePrompt !== ""
                    text: qsTr("Not: %1").arg(root.negativePrompt)
                    wrapMode: Text.Wrap
                    color: Theme.userBubbleMuted
                    textFormat: Text.PlainText
                    font.pointSize: Qt.application.font.pointSize * Theme.smallFont
                }
                Label {
                    Layout.fillWidth: true
                    text: root.details
                    wrapMode: Text.Wrap
                    color: Theme.userBubbleMuted
                    font.pointSize: Qt.application.font.pointSize * Theme.smallFont
                }
            }
        }
    }
}
